"""Payment-form top-ups: a payment intent the service created with metadata
`purpose=topup`, `user_id` and `credits` (computed by the server when the intent was
made, never by the client). Only those are credited here: checkout and invoice
payment intents succeed too, and their own events credit them (no double credit).
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.accounts import PURCHASE
from billing.errors import ValidationProblem
from billing.payments import records
from billing.stripe_shapes import StripeObject, metadata_user_id, object_id
from billing.webhooks.handlers.context import EventHandler, HandlerContext, event_object
from billing.webhooks.models import WebhookEvent

TOPUP = "topup"
logger = structlog.get_logger(__name__)


def _is_topup(intent: StripeObject) -> bool:
    metadata = intent.get("metadata")
    return isinstance(metadata, dict) and metadata.get("purpose") == TOPUP


def _topup_terms(intent: StripeObject) -> tuple[int, int]:
    """(user, credits) from the intent's server-set metadata. Missing or malformed is a
    bug worth a person: raised, so the event retries and ends dead (alerted), not lost."""
    user_id = metadata_user_id(intent)
    credits = str(intent["metadata"].get("credits") or "")
    if user_id is None or not (credits.isascii() and credits.isdigit() and int(credits) > 0):
        raise ValidationProblem(f"Top-up {intent.get('id')} lacks valid user_id/credits metadata.")
    return user_id, int(credits)


async def topup_succeeded(
    context: HandlerContext, session: AsyncSession, event: WebhookEvent
) -> None:
    intent = event_object(event)
    intent_id = str(intent["id"])
    if not _is_topup(intent) or await records.already_succeeded(session, intent_id):
        return
    user_id, credits = _topup_terms(intent)
    await records.post_credits(
        session,
        PURCHASE,
        user_id=user_id,
        credits=credits,
        key=f"stripe:payment_intent:{intent_id}",
        reference=intent_id,
    )
    await records.record_success(
        session,
        stripe_id=intent_id,
        kind=TOPUP,
        user_id=user_id,
        amount=int(intent.get("amount_received") or intent.get("amount") or 0),
        currency=str(intent.get("currency") or ""),
        credits=credits,
        payment_intent_id=intent_id,
        charge_id=object_id(intent.get("latest_charge")),
        invoice_id=None,
        subscription_id=None,
    )


async def topup_failed(context: HandlerContext, session: AsyncSession, event: WebhookEvent) -> None:
    intent = event_object(event)
    if not _is_topup(intent):
        return
    error = intent.get("last_payment_error")
    error = error if isinstance(error, dict) else {}
    await records.record_failure(
        session,
        stripe_id=str(intent["id"]),
        kind=TOPUP,
        user_id=metadata_user_id(intent),
        amount=int(intent.get("amount") or 0),
        currency=str(intent.get("currency") or ""),
        failure_code=error.get("decline_code") or error.get("code"),
        failure_message=error.get("message"),
        invoice_id=None,
        subscription_id=None,
        payment_intent_id=str(intent["id"]),
    )
    logger.info("topup_failed", payment_intent=intent["id"], code=error.get("code"))


HANDLERS: dict[str, EventHandler] = {
    "payment_intent.succeeded": topup_succeeded,
    "payment_intent.payment_failed": topup_failed,
}
