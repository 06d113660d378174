"""Spends on a busy wallet are queued and posted together, on the real PostgreSQL.

A second connection holding the wallet's row lock keeps the first spend in flight, so
the ones after it deterministically queue behind it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing.config import Settings
from billing.credits import postgres, service, spend_batches
from billing.credits.accounts import ADMIN_GRANT, SPEND
from billing.db import Database
from billing.errors import InsufficientCredits, ServiceUnavailable
from tests.conftest import NO_POSTGRES, POSTGRES_URL, assert_ledger_holds, reset_postgres

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason=f"batches are PostgreSQL's: {NO_POSTGRES}")
USER = 42
Batches = list[list[postgres.Arguments]]


@pytest.fixture
async def pg(migrated: dict[str, str]) -> AsyncIterator[Database]:
    url = migrated["postgres"]
    await reset_postgres(url)
    database = Database(Settings(_env_file=None, DATABASE_URL=url))
    yield database
    await database.dispose()
    assert not spend_batches._busy, "a wallet was left marked busy"
    await assert_ledger_holds(url)


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> Batches:
    """Every batch posted, in order (the real `post_debits` still posts them)."""
    seen: Batches = []
    real = postgres.post_debits

    async def recording(database: Database, batch: list[postgres.Arguments]) -> Any:
        seen.append(batch)
        return await real(database, batch)

    monkeypatch.setattr(postgres, "post_debits", recording)
    return seen


async def grant(database: Database, user: int, amount: int) -> None:
    await service.post(database, service.Transfer(ADMIN_GRANT, user, amount, actor="test"))


def spend(database: Database, user: int, amount: int, key: str | None = None) -> Awaitable[Any]:
    transfer = service.Transfer(SPEND, user, amount, actor="test", idempotency_key=key)
    return asyncio.ensure_future(service.post(database, transfer))


@asynccontextmanager
async def wallet_held(
    database: Database, user: int
) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """The wallet's row locked by another connection until the block ends; yields a
    function that waits until a spend is blocked on that lock."""
    holder = Database(Settings(_env_file=None, DATABASE_URL=str(database.engine.url)))
    async with holder.driver_connection() as connection, connection.transaction():
        await connection.execute(
            "SELECT 1 FROM credit_accounts WHERE user_id = $1 FOR UPDATE", user
        )

        async def a_spend_is_blocked() -> None:
            for _ in range(500):
                if await connection.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"):
                    return
                await asyncio.sleep(0.01)
            raise AssertionError("no spend ever waited on the wallet")

        yield a_spend_is_blocked
    await holder.dispose()


async def transactions(database: Database, user: int) -> int:
    async with database.driver_connection() as connection:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM credit_transactions WHERE user_id = $1 AND kind = 'spend'", user
        )
    return count


async def test_spends_queued_behind_one_in_flight_are_posted_as_one_batch(
    pg: Database, batches: Batches
) -> None:
    await grant(pg, USER, 1000)
    async with wallet_held(pg, USER) as a_spend_is_blocked:
        spends = [spend(pg, USER, 10) for _ in range(21)]
        await a_spend_is_blocked()
    posted = await asyncio.gather(*spends)
    assert [len(batch) for batch in batches] == [20]
    assert sorted(p.balance for p in posted) == list(range(790, 1000, 10))
    assert len({p.transaction_id for p in posted}) == 21
    assert await transactions(pg, USER) == 21


async def test_a_batch_refuses_what_the_spends_before_it_left_too_little_for(
    pg: Database, batches: Batches
) -> None:
    await grant(pg, USER, 100)
    amounts = [30, 50, 40, 20, 10, 5]  # in order: 30 ok, 50 ok, 40 no, 20 ok, 10 no, 5 no
    async with wallet_held(pg, USER) as a_spend_is_blocked:
        spends = [spend(pg, USER, amount) for amount in amounts]
        await a_spend_is_blocked()
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


async def test_a_spend_whose_request_goes_away_while_queued_is_never_posted(
    pg: Database, batches: Batches
) -> None:
    await grant(pg, USER, 100)
    async with wallet_held(pg, USER) as a_spend_is_blocked:
        first, gone, last = (spend(pg, USER, 10) for _ in range(3))
        await a_spend_is_blocked()
        gone.cancel()  # type: ignore[attr-defined]
    assert [(await first).balance, (await last).balance] == [90, 80]
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert [len(batch) for batch in batches] == [1]
    assert await transactions(pg, USER) == 2


async def test_a_failed_batch_fails_each_of_its_spends_and_posts_none(
    pg: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await grant(pg, USER, 100)

    async def unreachable(database: Database, batch: list[postgres.Arguments]) -> Any:
        raise ServiceUnavailable("The database connection was lost; retry.")

    monkeypatch.setattr(postgres, "post_debits", unreachable)
    async with wallet_held(pg, USER) as a_spend_is_blocked:
        spends = [spend(pg, USER, 10) for _ in range(4)]
        await a_spend_is_blocked()
    outcomes = await asyncio.gather(*spends, return_exceptions=True)
    assert getattr(outcomes[0], "balance", None) == 90
    assert all(isinstance(o, ServiceUnavailable) for o in outcomes[1:])
    assert await transactions(pg, USER) == 1
    assert (await spend(pg, USER, 10)).balance == 80  # the wallet is not left busy


async def test_keyed_spends_and_other_wallets_are_never_batched(
    pg: Database, batches: Batches
) -> None:
    for user in (USER, USER + 1):
        await grant(pg, user, 100)
    async with wallet_held(pg, USER) as a_spend_is_blocked:
        keyed = [spend(pg, USER, 10, key=f"key-{n}") for n in range(5)]
        await a_spend_is_blocked()
        elsewhere = await spend(pg, USER + 1, 10)
    assert elsewhere.balance == 90
    assert sorted(p.balance for p in await asyncio.gather(*keyed)) == [50, 60, 70, 80, 90]
    assert batches == []


users = itertools.count(1000)


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
        database = Database(Settings(_env_file=None, DATABASE_URL=migrated["postgres"]))
        try:
            user = next(users)
            if funded:
                await grant(database, user, funded)
            outcomes = await asyncio.gather(
                *(spend(database, user, amount) for amount in amounts), return_exceptions=True
            )
            async with database.sessions() as session:
                return outcomes, (await service.balance(session, user)).balance
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
