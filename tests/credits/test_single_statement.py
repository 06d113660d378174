"""Usage batches in one statement on PostgreSQL (`credit_debit_many`): what the function
does when its callers' guarantees do not hold, or another transaction holds a key."""

from __future__ import annotations

import asyncio

import pytest

from billing.core.errors import IdempotencyConflict
from billing.core.times import utcnow
from billing.credits import balances, service, single_statement
from billing.credits.accounts import ADMIN_GRANT, SPEND
from billing.credits.transfers import Posted, Transfer
from billing.db.engine import Database
from tests.support.credits import assert_ledger_sound

# Money paths: on PostgreSQL, also through PgBouncer in transaction pooling.
pytestmark = pytest.mark.pgbouncer


def _spend(user_id: int, amount: int, key: str) -> Transfer:
    return Transfer(SPEND, user_id, amount, actor="service:test", idempotency_key=key)


async def _funded(database: Database, *users: int) -> None:
    for user_id in users:
        await service.post(database, Transfer(ADMIN_GRANT, user_id, 100, actor="test"))


async def _balance(database: Database, user_id: int) -> int:
    async with database.sessions() as session:
        return (await balances.balance(session, user_id)).balance


async def test_a_key_twice_in_one_call_posts_once(pg: Database) -> None:
    """The usage route never sends a key twice in one call; were it to, the first event
    posts and the second is left to be explained (a replay or a conflict)."""
    await _funded(pg, 7, 8)
    same_user = [_spend(7, 10, "twice"), _spend(7, 20, "twice")]
    other_user = [_spend(7, 1, "shared"), _spend(8, 2, "shared")]
    for debits in (same_user, other_user):
        outcomes = await single_statement.post_many(pg, debits, utcnow())
        assert outcomes[1] is None
        assert outcomes[0] is not None
        assert outcomes[0][2] == debits[0].amount
    assert (await _balance(pg, 7), await _balance(pg, 8)) == (89, 100)
    await assert_ledger_sound(pg)


async def test_a_key_in_flight_elsewhere_is_waited_for_then_answered_as_its_posting(
    pg: Database,
) -> None:
    await _funded(pg, 7, 8)
    elsewhere = _spend(8, 30, "api:test:k")
    arguments = single_statement.arguments_for(elsewhere, "api:test:k", utcnow())
    async with pg.driver_connection() as connection:
        transaction = connection.transaction()
        await transaction.start()
        await connection.fetchrow(single_statement.DEBIT, *arguments)
        batch = asyncio.create_task(
            service.post_batch(pg, [_spend(7, 5, "api:test:k"), _spend(7, 6, "api:test:other")])
        )
        await asyncio.sleep(0.3)
        assert not batch.done()  # the insert waits on the key's uncommitted row
        await transaction.commit()
    conflict, posted = await asyncio.wait_for(batch, 10)
    assert isinstance(conflict, IdempotencyConflict)  # the key posted for user 8
    assert isinstance(posted, Posted)
    assert posted.amount == 6
    assert (await _balance(pg, 7), await _balance(pg, 8)) == (94, 70)
    await assert_ledger_sound(pg)
