"""Refunds and disputes: the credits of money that went back are clawed back, in
proportion, never below zero (see `payments.clawback`); a won dispute gives back what
its claw-back took (see `payments.disputes`).

A charge's `amount_refunded` is cumulative, so each refund posts under
`stripe:refund:{charge}:{amount_refunded}` and settles only the increase. A dispute's
events (`charge.dispute.created`, `.updated`, `.closed`, `.funds_withdrawn`,
`.funds_reinstated`) each say whether its funds went or came back: its claw-back is
posted once, under `stripe:dispute:{id}`, on the first news that the funds went; its
reinstatement once, under `stripe:dispute_reinstated:{id}`, on the first that they came
back. An inquiry (`warning_*`) moves no money and changes nothing: it is not even looked
up. A dispute won before its withdrawal is known moves no credits, then or later (it is
recorded, not retried: why in `payments.disputes`).

A charge the service has no payment for is not its business (ignored), unless the
charge is evidently one of its users' (the metadata Stripe copies from the payment
intent, or the customer): then the payment's own event has not been processed yet, and
raising makes this one wait for it. The same holds for a payment recorded but not
succeeded (only a failed attempt so far): money can go back only from a charge that
succeeded, so its success is still to come.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.core.errors import Conflict
from billing.payments import disputes, recorded_payments
from billing.payments.clawback import claw_back
from billing.payments.customers import user_for_customer
from billing.payments.models import SUCCEEDED, Payment
from billing.stripe.client import stripe_errors
from billing.stripe.metadata import metadata_user_id
from billing.stripe.readers import StripeObject, object_id
from billing.webhooks.handlers.context import EventHandler, HandlerContext, event_object
from billing.webhooks.models import WebhookEvent

logger = structlog.get_logger(__name__)


async def _invoice_payment(
    context: HandlerContext, session: AsyncSession, payment_intent_id: str
) -> Payment | None:
    """The invoice payment a payment intent collected. Invoices in today's shape no longer
    name their payment intent, so Stripe is asked which invoice it paid."""
    async with stripe_errors():
        listing = await context.stripe.v1.invoice_payments.list_async(
            {"payment": {"type": "payment_intent", "payment_intent": payment_intent_id}}
        )
    for invoice_payment in listing.data:
        invoice_id = object_id(invoice_payment.to_dict().get("invoice"))
        found = (
            await recorded_payments.get(session, invoice_id, for_update=True)
            if invoice_id
            else None
        )
        if found is not None:
            found.payment_intent_id = found.payment_intent_id or payment_intent_id
            return found
    return None


async def _payment_for(
    context: HandlerContext, session: AsyncSession, charge: StripeObject
) -> Payment | None:
    """The payment a charge collected; None when it is not this service's."""
    charge_id = str(charge["id"])
    payment_intent_id = object_id(charge.get("payment_intent"))
    found = await recorded_payments.for_charge(session, payment_intent_id, charge_id)
    if found is not None:
        return found
    customer_id = object_id(charge.get("customer"))
    if metadata_user_id(charge, context.legacy_metadata_before) is None:  # nor a checkout's
        if customer_id is None or await user_for_customer(session, customer_id) is None:
            logger.info("charge_not_ours", charge=charge_id)
            return None
        if payment_intent_id:  # perhaps an invoice's, in today's shape
            found = await _invoice_payment(context, session, payment_intent_id)
    if found is None:
        raise Conflict(f"The payment of charge {charge_id} is not recorded yet.")
    return found


def _require_success(payment: Payment, reference: str) -> None:
    if payment.status != SUCCEEDED:
        raise Conflict(f"Payment {payment.stripe_id} has not succeeded yet; {reference} waits.")


async def _settle(
    session: AsyncSession,
    payment: Payment | None,
    *,
    key: str,
    reference: str,
    charge_id: str | None = None,
    refunded: int = 0,
    disputed: int = 0,
) -> None:
    """Note what went back of a paid payment (totals only grow: events come in any order)
    and claw back its credits. One not recorded as succeeded yet makes the event retry:
    its success is on its way, and the clawback must not be lost meanwhile."""
    if payment is None:
        return
    _require_success(payment, reference)
    payment.charge_id = payment.charge_id or charge_id
    payment.amount_refunded = max(payment.amount_refunded, refunded)
    payment.amount_disputed = max(payment.amount_disputed, disputed)
    await audit.record_changes(
        session,
        payment,
        "payment",
        actor="stripe",
        target=payment.stripe_id,
        user_id=payment.user_id,
    )  # before the clawback's queries flush the changes; its credits are audited as posted
    await claw_back(session, payment, key=key, reference=reference)


async def charge_refunded(
    context: HandlerContext, session: AsyncSession, event: WebhookEvent
) -> None:
    charge = event_object(event)
    charge_id, refunded = str(charge["id"]), int(charge.get("amount_refunded") or 0)
    await _settle(
        session,
        await _payment_for(context, session, charge),
        key=f"stripe:refund:{charge_id}:{refunded}",
        reference=charge_id,
        charge_id=charge_id,
        refunded=refunded,
    )


async def _disputed_payment(
    context: HandlerContext, session: AsyncSession, dispute: StripeObject
) -> Payment | None:
    """The payment a dispute is about. A dispute names only its charge, so when no payment
    matches, the charge is fetched to tell "not ours" from "not recorded yet"."""
    charge_id = object_id(dispute.get("charge"))
    found = await recorded_payments.for_charge(
        session, object_id(dispute.get("payment_intent")), charge_id
    )
    if found is not None or charge_id is None:
        return found
    async with stripe_errors():
        charge = await context.stripe.v1.charges.retrieve_async(charge_id)
    return await _payment_for(context, session, charge.to_dict(for_json=True))


FUNDS_WITHDRAWN = "charge.dispute.funds_withdrawn"
FUNDS_REINSTATED = "charge.dispute.funds_reinstated"


async def _news(session: AsyncSession, event: WebhookEvent) -> disputes.DisputeNews:
    """What the event says of its dispute (the same fields in both API shapes)."""
    dispute = event_object(event)
    dispute_id, status = str(dispute["id"]), str(dispute.get("status") or "")
    reinstated = event.type == FUNDS_REINSTATED or status == disputes.WON
    if status == disputes.INQUIRY_CLOSED:  # undo a claw-back made before inquiries were told
        reinstated = await disputes.legacy_clawback(session, dispute_id) is not None
    return disputes.DisputeNews(
        dispute_id=dispute_id,
        charge_id=object_id(dispute.get("charge")),
        amount=int(dispute.get("amount") or 0),
        currency=dispute.get("currency"),
        status=status,
        at=event.created,
        withdrawn=event.type == FUNDS_WITHDRAWN or status in disputes.WITHDRAWN_STATUSES,
        reinstated=reinstated,
    )


async def dispute_changed(
    context: HandlerContext, session: AsyncSession, event: WebhookEvent
) -> None:
    """Any event of a dispute: settle what it says moved (see the module's docstring)."""
    news = await _news(session, event)
    if not news.moves_money:
        logger.info("dispute_moves_no_money", dispute=news.dispute_id, status=news.status)
        return
    payment = await _disputed_payment(context, session, event_object(event))
    if payment is None:
        return
    _require_success(payment, news.dispute_id)
    await disputes.settle(session, payment, news)


HANDLERS: dict[str, EventHandler] = {
    "charge.refunded": charge_refunded,
    "charge.dispute.created": dispute_changed,
    "charge.dispute.updated": dispute_changed,
    "charge.dispute.closed": dispute_changed,
    FUNDS_WITHDRAWN: dispute_changed,
    FUNDS_REINSTATED: dispute_changed,
}
