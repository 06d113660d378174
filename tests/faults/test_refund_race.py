"""Two workers settling refunds of one payment: the second must settle from what the
first committed while it waited for the payment's lock. A worker whose session still held
the row as read earlier in its batch (unlocked, by a replayed `payment_intent.succeeded`,
say) settled from that stale copy and clawed the first refund's credits back again:
SQLAlchemy does not refresh an object it already has when a `FOR UPDATE` reads it again."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from billing.core.config import Settings
from billing.db.engine import Database
from billing.payments import recorded_payments
from billing.webhooks.handlers import registry
from billing.webhooks.handlers.context import HandlerContext
from billing.webhooks.models import WebhookEvent
from billing.webhooks.processing import process_due
from tests.support.event_shapes import NEW, charge, event, new_id, payment_intent
from tests.support.worker import ONLY_POSTGRES, file_events, wallet_balances

USER, AMOUNT, CREDITS = 7001, 1000, 300


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


def refund(intent: dict[str, object], amount_refunded: int) -> bytes:
    obj = charge(
        NEW,
        id=intent["latest_charge"],
        amount=AMOUNT,
        amount_refunded=amount_refunded,
        payment_intent=intent["id"],
        metadata=intent["metadata"],
    )
    return event(NEW, "charge.refunded", obj)


@ONLY_POSTGRES
async def test_a_refund_settles_from_the_row_as_committed_not_as_read_earlier(
    database: Database, settings: Settings
) -> None:
    handlers = registry(HandlerContext(settings, None))
    metadata = {
        "billing_purpose": "topup",
        "billing_user_id": str(USER),
        "billing_credits": str(CREDITS),
    }
    intent = payment_intent(
        NEW, amount=AMOUNT, status="succeeded", latest_charge=new_id("ch"), metadata=metadata
    )
    await file_events(database, settings, [event(NEW, "payment_intent.succeeded", intent)])
    await process_due(database, handlers, limit=10)

    async with database.sessions() as batch, batch.begin():
        # Earlier in this worker's batch the row was read unlocked, and is still referenced.
        earlier = await recorded_payments.get(batch, intent["id"])
        assert earlier is not None
        # Meanwhile another worker settles the first refund, 250 of 1000: 75 credits.
        await file_events(database, settings, [refund(intent, 250)])
        assert await process_due(database, handlers, limit=10) == 1
        # This batch's refund, 600 in all, settles what is left of 180: 105 more.
        second = WebhookEvent(
            stripe_event_id=new_id("evt"), livemode=False, payload=json.loads(refund(intent, 600))
        )
        await handlers["charge.refunded"](batch, second)

    assert await wallet_balances(database) == {USER: CREDITS - CREDITS * 600 // AMOUNT}
    async with database.sessions() as session:
        payment = await recorded_payments.get(session, intent["id"])
    assert payment is not None
    assert (payment.amount_refunded, payment.credits_clawed_back) == (600, 180)
