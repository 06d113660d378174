"""What payments tell the platform (docs/webhooks.md): a payment that succeeded or failed,
credits taken back for money that went back, a subscription that started, changed or
ended. Each message is written in the
transaction that records the news, so it is sent once the news is committed, and only
then. The models are the `data` of each message, as the OpenAPI document shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from billing.db import outbox
from billing.payments.models import SUBSCRIPTION_ENDED, Subscription

SubscriptionEvent = Literal["subscription.created", "subscription.updated", "subscription.canceled"]


class PaymentObject(BaseModel):
    id: str  # Stripe's id: a PaymentIntent, a Checkout Session or an invoice
    kind: str  # topup | checkout | invoice
    status: Literal["succeeded", "failed"]
    amount: int  # minor units
    currency: str
    credits: int  # what it bought: 0 when it failed
    failure_code: str | None = None
    failure_message: str | None = None


class PaymentData(BaseModel):
    user_id: int | None
    payment: PaymentObject


class ClawbackObject(BaseModel):
    payment_id: str  # the payment whose money went back
    kind: str  # refund_clawback (a refund, a dispute) | subscription_clawback (a downgrade)
    reason: str  # what took it back: a refund's, a dispute's or an invoice's id
    credits: int  # taken from the wallet now
    unrecovered: int  # owed, but the wallet could not give it: recorded as lost
    transaction_id: int | None  # the ledger's, when credits were taken


class ClawedBackData(BaseModel):
    user_id: int
    clawback: ClawbackObject
    balance: int | None  # what can be spent after, when credits were taken


class SubscriptionObject(BaseModel):
    id: str
    status: str
    price_id: str | None
    product_id: str | None
    quantity: int
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None


class SubscriptionData(BaseModel):
    user_id: int | None
    subscription: SubscriptionObject


def _write(
    session: AsyncSession, type_: str, data: PaymentData | SubscriptionData | ClawedBackData
) -> None:
    fields: dict[str, Any] = data.model_dump(mode="json", exclude={"user_id"})
    outbox.write(session, type_, fields, data.user_id)


def payment_settled(session: AsyncSession, user_id: int | None, payment: PaymentObject) -> None:
    """`payment.succeeded` or `payment.failed`."""
    _write(session, f"payment.{payment.status}", PaymentData(user_id=user_id, payment=payment))


def clawed_back(
    session: AsyncSession, user_id: int, clawback: ClawbackObject, balance: int | None
) -> None:
    """`credits.clawed_back`, whether the wallet could give all of it back or not."""
    data = ClawedBackData(user_id=user_id, clawback=clawback, balance=balance)
    _write(session, "credits.clawed_back", data)


def subscription_event(
    created: bool, before: dict[str, object] | None, row: Subscription
) -> SubscriptionEvent | None:
    """What a change to the mirror tells: None when nothing the platform sees changed."""
    if created:
        return "subscription.created"
    assert before is not None
    if row.status in SUBSCRIPTION_ENDED and before["status"] not in SUBSCRIPTION_ENDED:
        return "subscription.canceled"
    if any(getattr(row, name) != value for name, value in before.items()):
        return "subscription.updated"
    return None


def subscription_changed(
    session: AsyncSession, event: SubscriptionEvent, row: Subscription
) -> None:
    shown = SubscriptionObject(
        id=row.stripe_subscription_id,
        status=row.status,
        price_id=row.price_id,
        product_id=row.product_id,
        quantity=row.quantity,
        current_period_start=row.current_period_start,
        current_period_end=row.current_period_end,
        cancel_at_period_end=row.cancel_at_period_end,
        canceled_at=row.canceled_at,
        ended_at=row.ended_at,
    )
    _write(session, event, SubscriptionData(user_id=row.user_id, subscription=shown))
