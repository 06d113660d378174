"""Payment rows: one per Stripe payment, a success is final, lookups by charge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from billing.config import Settings
from billing.db import Database
from billing.payments import records


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


def _success(stripe_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "stripe_id": stripe_id,
        "kind": "invoice",
        "user_id": 12,
        "amount": 1000,
        "currency": "usd",
        "credits": 500,
        "payment_intent_id": None,
        "charge_id": None,
        "invoice_id": stripe_id,
        "subscription_id": "sub_1",
        **overrides,
    }


def _failure(stripe_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "stripe_id": stripe_id,
        "kind": "invoice",
        "user_id": 12,
        "amount": 1000,
        "currency": "usd",
        "failure_code": "card_declined",
        "failure_message": "declined",
        "invoice_id": stripe_id,
        "subscription_id": "sub_1",
        "payment_intent_id": "pi_1",
        **overrides,
    }


async def _in_tx(database: Database, work: Any) -> Any:
    async with database.sessions() as session, session.begin():
        return await work(session)


async def test_a_failure_then_a_success_is_one_succeeded_row(database: Database) -> None:
    async def fail(session: AsyncSession) -> None:
        row = await records.record_failure(session, **_failure("in_1"))
        assert (row.status, row.failure_code, row.credits) == ("failed", "card_declined", 0)

    async def succeed(session: AsyncSession) -> None:
        row = await records.record_success(session, **_success("in_1", charge_id="ch_1"))
        assert (row.status, row.failure_code, row.failure_message) == ("succeeded", None, None)
        # What the failure knew (the payment intent) is kept; the success adds the charge.
        assert (row.payment_intent_id, row.charge_id, row.credits) == ("pi_1", "ch_1", 500)

    await _in_tx(database, fail)
    await _in_tx(database, succeed)
    await _in_tx(database, lambda s: records.record_failure(s, **_failure("in_1")))  # late

    async with database.sessions() as session:
        [row] = await records.for_user(session, 12)
        assert (row.status, row.credits, row.failure_code) == ("succeeded", 500, None)
        assert await records.already_succeeded(session, "in_1")
        assert not await records.already_succeeded(session, "in_unknown")


async def test_a_long_failure_is_truncated(database: Database) -> None:
    long = _failure("pi_9", failure_code="x" * 100, failure_message="y" * 2000)
    row = await _in_tx(database, lambda s: records.record_failure(s, **long))
    assert (len(row.failure_code), len(row.failure_message)) == (64, 500)


async def test_for_user_lists_newest_first_and_only_theirs(database: Database) -> None:
    for stripe_id, user_id in (("in_a", 12), ("in_b", 13), ("in_c", 12)):
        await _in_tx(
            database,
            lambda s, i=stripe_id, u=user_id: records.record_success(s, **_success(i, user_id=u)),
        )
    async with database.sessions() as session:
        assert [p.stripe_id for p in await records.for_user(session, 12)] == ["in_c", "in_a"]


async def test_a_charge_finds_its_payment_by_intent_or_by_charge(database: Database) -> None:
    await _in_tx(
        database,
        lambda s: records.record_success(
            s, **_success("in_x", payment_intent_id="pi_x", charge_id="ch_x")
        ),
    )
    await _in_tx(
        database,
        lambda s: records.record_success(
            s, **_success("pi_t", kind="topup", payment_intent_id="pi_t", invoice_id=None)
        ),
    )

    async def find(pi: str | None, ch: str | None) -> str | None:
        async def lookup(session: AsyncSession) -> str | None:
            found = await records.for_charge(session, pi, ch)
            return found.stripe_id if found else None

        result: str | None = await _in_tx(database, lookup)
        return result

    assert await find("pi_x", "ch_other") == "in_x"
    assert await find(None, "ch_x") == "in_x"
    assert await find("pi_t", None) == "pi_t"
    assert await find("pi_none", "ch_none") is None
    assert await find(None, None) is None
