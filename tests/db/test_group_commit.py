"""Group commit, through its busiest user (unkeyed spends) on the real PostgreSQL.

A second connection holding a wallet's row lock keeps spends on it in flight, so the
ones after them deterministically queue."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing.core.config import Settings
from billing.core.errors import InsufficientCredits, ServiceUnavailable
from billing.credits import balances, service, single_statement
from billing.credits.accounts import ADMIN_GRANT, SPEND
from billing.credits.transfers import Transfer
from billing.db import group_commit
from billing.db.engine import Database
from tests.conftest import NO_POSTGRES, POSTGRES_URL, assert_ledger_holds
from tests.support.transactions import Holder, another_transaction

# Money paths: on PostgreSQL, also through PgBouncer in transaction pooling.
pytestmark = pytest.mark.pgbouncer

USER = 42
BLOCKER = 7  # a wallet held locked, so that spends on it stay in flight
Batches = list[list[single_statement.Arguments]]


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> Batches:
    """Every batch posted, in order (the real `post_debits` still posts them)."""
    seen: Batches = []
    real = single_statement.post_debits

    async def recording(database: Database, batch: list[single_statement.Arguments]) -> Any:
        seen.append(batch)
        return await real(database, batch)

    monkeypatch.setattr(single_statement.SPENDS, "_together", recording)
    return seen


async def grant(database: Database, user: int, amount: int) -> None:
    await service.post(database, Transfer(ADMIN_GRANT, user, amount, actor="test"))


def spend(database: Database, user: int, amount: int, key: str | None = None) -> Awaitable[Any]:
    transfer = Transfer(SPEND, user, amount, actor="test", idempotency_key=key)
    return asyncio.ensure_future(service.post(database, transfer))


@asynccontextmanager
async def holding(database: Database, user: int) -> AsyncIterator[Holder]:
    """The wallet's row locked by another connection until the block ends."""
    async with another_transaction(database) as holder:
        await holder.lock_wallet(user)
        yield holder


async def transactions(database: Database, user: int) -> int:
    async with database.driver_connection() as connection:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM credit_transactions WHERE user_id = $1 AND kind = 'spend'", user
        )
    return count


@asynccontextmanager
async def postings_busy(database: Database) -> AsyncIterator[None]:
    """Every place for a posting in flight taken by a spend waiting on a held wallet
    (BLOCKER's): spends made in the block queue, and are posted once it ends."""
    await grant(database, BLOCKER, 100)
    async with holding(database, BLOCKER) as holder:
        first = [spend(database, BLOCKER, 1) for _ in range(group_commit.IN_FLIGHT)]
        await holder.a_writer_waits()
        yield
        await holder.a_writer_waits()  # a round trip: the block's spends have queued
    await asyncio.gather(*first)


async def test_spends_queued_behind_the_postings_in_flight_are_posted_as_one_batch(
    pg: Database, batches: Batches
) -> None:
    await grant(pg, USER, 1000)
    async with postings_busy(pg):
        spends = [spend(pg, USER, 10) for _ in range(20)]
    posted = await asyncio.gather(*spends)
    assert [len(batch) for batch in batches] == [20]
    assert [p.balance for p in posted] == list(range(990, 790, -10))  # in arrival order
    assert len({p.transaction_id for p in posted}) == 20
    assert await transactions(pg, USER) == 20


async def test_a_batch_refuses_what_the_spends_before_it_left_too_little_for(
    pg: Database, batches: Batches
) -> None:
    await grant(pg, USER, 100)
    amounts = [30, 50, 40, 20, 10, 5]
    async with postings_busy(pg):
        spends = [spend(pg, USER, amount) for amount in amounts]
    outcomes = await asyncio.gather(*spends, return_exceptions=True)
    assert len(batches) == 1
    assert [getattr(o, "balance", None) for o in outcomes] == [70, 20, None, 0, None, None]
    refusals = [o for o in outcomes if isinstance(o, InsufficientCredits)]
    assert [(r.extra["balance"], r.extra["required"]) for r in refusals] == [
        (0, 40),
        (0, 10),
        (0, 5),
    ]
    assert await transactions(pg, USER) == 3


async def test_one_batch_carries_many_wallets_each_in_its_own_order(
    pg: Database, batches: Batches
) -> None:
    wallets = [USER + n for n in range(5)]
    for user in wallets:
        await grant(pg, user, 100)
    async with postings_busy(pg):
        queued = [(user, spend(pg, user, 10 + n)) for n in range(3) for user in reversed(wallets)]
    assert [len(batch) for batch in batches] == [15]
    assert [arguments[single_statement.USER_ID] for arguments in batches[0]] == sorted(wallets * 3)
    for user in wallets:
        balances = [(await posted).balance for owner, posted in queued if owner == user]
        assert balances == [90, 79, 67]


async def test_a_spend_whose_request_goes_away_while_queued_is_never_posted(
    pg: Database, batches: Batches
) -> None:
    await grant(pg, USER, 100)
    async with postings_busy(pg):
        gone, last = spend(pg, USER, 10), spend(pg, USER, 10)
        await asyncio.sleep(0)
        gone.cancel()  # type: ignore[attr-defined]
    assert (await last).balance == 90
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert [len(batch) for batch in batches] == [1]
    assert await transactions(pg, USER) == 1


async def test_a_failed_batch_fails_each_of_its_spends_and_posts_none(
    pg: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await grant(pg, USER, 100)

    async def unreachable(database: Database, batch: list[single_statement.Arguments]) -> Any:
        raise ServiceUnavailable("The database connection was lost; retry.")

    monkeypatch.setattr(single_statement.SPENDS, "_together", unreachable)
    async with postings_busy(pg):
        spends = [spend(pg, USER, 10) for _ in range(3)]
    outcomes = await asyncio.gather(*spends, return_exceptions=True)
    assert all(isinstance(o, ServiceUnavailable) for o in outcomes)
    assert await transactions(pg, USER) == 0
    assert (await spend(pg, USER, 10)).balance == 90  # nothing is left in flight


async def test_a_batch_a_deadlock_aborts_posts_its_spends_one_by_one(
    pg: Database, batches: Batches
) -> None:
    """The batch locks wallet `one`, then waits for `two`, held by a transaction that
    then asks for `one`: PostgreSQL aborts the batch, the first of the two to wait."""
    one, two = USER, USER + 1
    for user in (one, two):
        await grant(pg, user, 100)
    async with holding(pg, two) as other:
        await other.connection.execute("SET LOCAL deadlock_timeout = '10s'")
        async with postings_busy(pg):
            queued = [spend(pg, one, 10), spend(pg, two, 10)]
        await other.a_writer_waits()  # the batch, on wallet `two`
        await other.lock_wallet(one)  # granted once the batch is aborted
    assert [(await posted).balance for posted in queued] == [90, 90]
    assert [len(batch) for batch in batches] == [2]
    assert await transactions(pg, one) == await transactions(pg, two) == 1


async def test_keyed_spends_are_never_batched(pg: Database, batches: Batches) -> None:
    await grant(pg, USER, 100)
    async with holding(pg, USER) as holder:
        keyed = [spend(pg, USER, 10, key=f"key-{n}") for n in range(5)]
        await holder.a_writer_waits()
    assert sorted(p.balance for p in await asyncio.gather(*keyed)) == [50, 60, 70, 80, 90]
    assert batches == []


users = itertools.count(1000)


@pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)
@given(
    funded=st.integers(min_value=0, max_value=200),
    amounts=st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=25),
)
@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_concurrent_spends_post_as_if_one_after_another(
    migrated: dict[str, str], funded: int, amounts: list[int]
) -> None:
    """Whatever batches form, the successes chain from the funded balance down, and every
    refusal asked for more than was ever left."""

    async def run() -> tuple[list[Any], int]:
        database = Database(
            Settings(_env_file=None, BILLING_ENV="development", DATABASE_URL=migrated["postgres"])
        )
        try:
            user = next(users)
            if funded:
                await grant(database, user, funded)
            outcomes = await asyncio.gather(
                *(spend(database, user, amount) for amount in amounts), return_exceptions=True
            )
            async with database.sessions() as session:
                return outcomes, (await balances.balance(session, user)).balance
        finally:
            await database.dispose()
            await assert_ledger_holds(migrated["postgres"])

    outcomes, final = asyncio.run(run())
    posted = sorted(
        (o for o in outcomes if not isinstance(o, BaseException)), key=lambda p: p.transaction_id
    )
    refused = [
        a for a, o in zip(amounts, outcomes, strict=True) if isinstance(o, InsufficientCredits)
    ]
    assert len(posted) + len(refused) == len(amounts)
    balance = funded
    for p in posted:
        balance -= p.amount
        assert p.balance == balance
    assert final == balance >= 0
    assert all(amount > final for amount in refused)
