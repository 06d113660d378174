"""Payment rows: one per Stripe payment, a success is final, lookups by charge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.config import Settings
from billing.db.engine import Database
from billing.payments import recorded_payments, repository
from billing.payments.models import Payment


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


def _payment(stripe_id: str, **overrides: Any) -> recorded_payments.StripePayment:
    payment = recorded_payments.StripePayment(
        stripe_id, "invoice", 12, 1000, "usd", invoice_id=stripe_id, subscription_id="sub_1"
    )
    return replace(payment, **overrides)


async def _succeed(session: AsyncSession, stripe_id: str, **overrides: Any) -> Payment:
    await recorded_payments.record_success(session, _payment(stripe_id, **overrides), credits=500)
    row = await recorded_payments.get(session, stripe_id)
    assert row is not None
    return row


async def _fail(
    session: AsyncSession,
    stripe_id: str,
    failure_code: str = "card_declined",
    failure_message: str = "declined",
) -> Payment:
    payment = _payment(stripe_id, payment_intent_id="pi_1")
    return await recorded_payments.record_failure(
        session, payment, failure_code=failure_code, failure_message=failure_message
    )


async def _in_tx(database: Database, work: Any) -> Any:
    async with database.sessions() as session, session.begin():
        return await work(session)


async def test_a_failure_then_a_success_is_one_succeeded_row(database: Database) -> None:
    async def fail(session: AsyncSession) -> None:
        row = await _fail(session, "in_1")
        assert (row.status, row.failure_code, row.credits) == ("failed", "card_declined", 0)

    async def succeed(session: AsyncSession) -> None:
        row = await _succeed(session, "in_1", charge_id="ch_1")
        assert (row.status, row.failure_code, row.failure_message) == ("succeeded", None, None)
        # What the failure knew (the payment intent) is kept; the success adds the charge.
        assert (row.payment_intent_id, row.charge_id, row.credits) == ("pi_1", "ch_1", 500)

    await _in_tx(database, fail)
    await _in_tx(database, succeed)
    await _in_tx(database, lambda s: _fail(s, "in_1"))  # late

    async with database.sessions() as session:
        [row] = await repository.payments_for_user(session, 12)
        assert (row.status, row.credits, row.failure_code) == ("succeeded", 500, None)
        assert await recorded_payments.already_succeeded(session, "in_1")
        assert not await recorded_payments.already_succeeded(session, "in_unknown")


async def test_a_long_failure_is_truncated(database: Database) -> None:
    row = await _in_tx(database, lambda s: _fail(s, "pi_9", "x" * 100, "y" * 2000))
    assert (len(row.failure_code), len(row.failure_message)) == (64, 500)


async def test_for_user_lists_newest_first_and_only_theirs(database: Database) -> None:
    for stripe_id, user_id in (("in_a", 12), ("in_b", 13), ("in_c", 12)):
        await _in_tx(
            database,
            lambda s, i=stripe_id, u=user_id: _succeed(s, i, user_id=u),
        )
    async with database.sessions() as session:
        assert [p.stripe_id for p in await repository.payments_for_user(session, 12)] == [
            "in_c",
            "in_a",
        ]


async def test_a_charge_finds_its_payment_by_intent_or_by_charge(database: Database) -> None:
    await _in_tx(
        database,
        lambda s: _succeed(s, "in_x", payment_intent_id="pi_x", charge_id="ch_x"),
    )
    await _in_tx(
        database,
        lambda s: _succeed(s, "pi_t", kind="topup", payment_intent_id="pi_t", invoice_id=None),
    )

    async def find(pi: str | None, ch: str | None) -> str | None:
        async def lookup(session: AsyncSession) -> str | None:
            found = await recorded_payments.for_charge(session, pi, ch)
            return found.stripe_id if found else None

        result: str | None = await _in_tx(database, lookup)
        return result

    assert await find("pi_x", "ch_other") == "in_x"
    assert await find(None, "ch_x") == "in_x"
    assert await find("pi_t", None) == "pi_t"
    assert await find("pi_none", "ch_none") is None
    assert await find(None, None) is None
