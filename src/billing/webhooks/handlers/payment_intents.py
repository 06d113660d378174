"""Top-ups: a payment intent the service created with metadata `billing_purpose` =
`topup` (the payment form) or `auto_topup` (the worker's off-session top-up),
`billing_user_id` and `billing_credits` (computed by the server when the intent was
made, never by the client; see `stripe.metadata` for the plain keys of older intents).
Only those are credited here: checkout and invoice payment intents succeed too, and
their own events credit them (no double credit). The credits open a grant whose source
is the purpose (default priority, never expiring); both are recorded as `topup` payments.
An auto top-up's intent also names its top-up (`billing_topup_id`), which it settles; a
card paid with `setup_future_usage=off_session` becomes the customer's default, the one
auto top-up charges.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.errors import ValidationProblem
from billing.core.times import utcnow
from billing.credits.accounts import PURCHASE
from billing.credits.grants import GrantTerms
from billing.payments import recorded_payments
from billing.payments.auto_topup import service as auto_topup
from billing.payments.auto_topup.cards import keep_as_default
from billing.stripe.metadata import (
    AUTO_TOPUP,
    TOPUP,
    metadata_credits,
    metadata_purpose,
    metadata_topup_id,
    metadata_user_id,
)
from billing.stripe.readers import StripeObject, object_id
from billing.webhooks.handlers.context import EventHandler, HandlerContext, event_object
from billing.webhooks.models import WebhookEvent

logger = structlog.get_logger(__name__)


TOPUP_PURPOSES = (TOPUP, AUTO_TOPUP)  # each is also the source of the grant it opens


def _topup_purpose(intent: StripeObject, legacy_before: datetime | None) -> str | None:
    purpose = metadata_purpose(intent, legacy_before)
    return purpose if purpose in TOPUP_PURPOSES else None


def _topup_terms(intent: StripeObject, legacy_before: datetime | None) -> tuple[int, int]:
    """(user, credits) from the intent's server-set metadata. Missing or malformed is a
    bug worth a person: raised, so the event retries and ends dead (alerted), not lost."""
    user_id = metadata_user_id(intent, legacy_before)
    try:
        credits = metadata_credits(intent, legacy_before)
    except ValueError:
        credits = None
    if user_id is None or not credits:
        raise ValidationProblem(f"Top-up {intent.get('id')} lacks valid user/credits metadata.")
    return user_id, credits


async def topup_succeeded(
    context: HandlerContext, session: AsyncSession, event: WebhookEvent
) -> None:
    intent = event_object(event)
    intent_id = str(intent["id"])
    legacy_before = context.legacy_metadata_before
    purpose = _topup_purpose(intent, legacy_before)
    if purpose is None:  # a redelivery is recognised by its recorded success
        return
    user_id, credits = _topup_terms(intent, legacy_before)
    payment = recorded_payments.StripePayment(
        stripe_id=intent_id,
        kind=TOPUP,
        user_id=user_id,
        amount=int(intent.get("amount_received") or intent.get("amount") or 0),
        currency=str(intent.get("currency") or ""),
        payment_intent_id=intent_id,
        charge_id=object_id(intent.get("latest_charge")),
    )
    key = f"stripe:payment_intent:{intent_id}"
    await recorded_payments.record_purchase(
        session, PURCHASE, payment, credits=credits, key=key, grant=GrantTerms(purpose)
    )
    topup_id = metadata_topup_id(intent) if purpose == AUTO_TOPUP else None
    if topup_id is not None:
        await auto_topup.succeeded(session, topup_id, intent_id, utcnow())
    method, customer = object_id(intent.get("payment_method")), object_id(intent.get("customer"))
    if intent.get("setup_future_usage") == "off_session" and method and customer:
        await keep_as_default(context.stripe, customer, method)  # the card saved to top up


async def topup_failed(context: HandlerContext, session: AsyncSession, event: WebhookEvent) -> None:
    intent = event_object(event)
    if _topup_purpose(intent, context.legacy_metadata_before) is None:
        return
    error = intent.get("last_payment_error")
    error = error if isinstance(error, dict) else {}
    payment = recorded_payments.StripePayment(
        stripe_id=str(intent["id"]),
        kind=TOPUP,
        user_id=metadata_user_id(intent, context.legacy_metadata_before),
        amount=int(intent.get("amount") or 0),
        currency=str(intent.get("currency") or ""),
        payment_intent_id=str(intent["id"]),
    )
    await recorded_payments.record_failure(
        session,
        payment,
        failure_code=error.get("decline_code") or error.get("code"),
        failure_message=error.get("message"),
    )
    topup_id = metadata_topup_id(intent)
    if topup_id is not None:
        code = str(error.get("code") or "card_declined")
        await auto_topup.failed(session, topup_id, (code, str(intent["id"])), utcnow())
    logger.info("topup_failed", payment_intent=intent["id"], code=error.get("code"))


async def topup_canceled(
    context: HandlerContext, session: AsyncSession, event: WebhookEvent
) -> None:
    """An auto top-up's intent canceled before it succeeded (at Stripe, or by the worker
    when it needed authentication): the top-up failed, if it is still in flight."""
    intent = event_object(event)
    if _topup_purpose(intent, context.legacy_metadata_before) != AUTO_TOPUP:
        return
    topup_id = metadata_topup_id(intent)
    if topup_id is not None:
        reason = str(intent.get("cancellation_reason") or "canceled")
        await auto_topup.failed(session, topup_id, (reason, str(intent["id"])), utcnow())


HANDLERS: dict[str, EventHandler] = {
    "payment_intent.succeeded": topup_succeeded,
    "payment_intent.payment_failed": topup_failed,
    "payment_intent.canceled": topup_canceled,
}
