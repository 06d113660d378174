"""Subscription invoices: credits once per paid invoice, failed payments recorded.

Stripe sends both `invoice.paid` and `invoice.payment_succeeded` for one invoice; both
settle under the key `stripe:invoice:{id}`, so the credits land once. What an invoice is
worth follows its subscription lines (`invoice_credits.py`), not what it collected: a
plan's period grants the plan's credits however it was paid, prorations grant or take
back their share, and tax never counts. The credits open one grant on the plan's terms
(`invoice_credits.grant_terms`), referenced by the invoice. An invoice worth less than
nothing (a downgrade billed at once) takes back from the wallet what it can give, never
below zero, and records the rest as unrecovered; it takes first from the grant of the
subscription's newest invoice that granted credits (the period whose unused share it
returns), then from the others in consumption order. Only a paid invoice counts. Alerts
are raised once the event commits.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.errors import Conflict
from billing.core.times import utcnow
from billing.credits.accounts import SUBSCRIPTION_CLAWBACK, SUBSCRIPTION_GRANT
from billing.credits.grants import GrantTerms
from billing.db.after_commit import after_commit
from billing.obs.alerts import alert
from billing.payments import recorded_payments, subscription_mirror
from billing.payments.clawback import take_back
from billing.payments.customers import user_for_customer
from billing.payments.models import SUCCEEDED
from billing.stripe.client import stripe_errors
from billing.stripe.metadata import invoice_user_id
from billing.stripe.readers import (
    StripeObject,
    data_list,
    invoice_charge_id,
    invoice_payment_intent_id,
    invoice_subscription_id,
    object_id,
)
from billing.webhooks.handlers.context import EventHandler, HandlerContext, event_object
from billing.webhooks.handlers.invoice_credits import priced_lines, worth
from billing.webhooks.models import WebhookEvent

PAST_DUE_FROM = ("active", "trialing")  # an incomplete first payment stays incomplete
Details = dict[str, str | int | None]  # of an alert
logger = structlog.get_logger(__name__)


async def _user_for(
    session: AsyncSession,
    invoice: StripeObject,
    subscription_id: str | None,
    legacy_before: datetime | None,
) -> int | None:
    """The subscription's user metadata as the invoice carries it, else the mirrors."""
    user_id = invoice_user_id(invoice, legacy_before)
    if user_id is None and subscription_id:
        row = await subscription_mirror.by_stripe_id(session, subscription_id)
        user_id = row.user_id if row else None
    customer_id = object_id(invoice.get("customer"))
    if user_id is None and customer_id:
        user_id = await user_for_customer(session, customer_id)
    return user_id


async def _owner(
    context: HandlerContext, session: AsyncSession, invoice: StripeObject
) -> tuple[int | None, str | None]:
    """(user, subscription). A subscription invoice whose user is not known yet is
    retried (raised) until the subscription or checkout event links it; other
    invoices of unknown customers are not this service's: (None, ...)."""
    subscription_id = invoice_subscription_id(invoice)
    user_id = await _user_for(session, invoice, subscription_id, context.legacy_metadata_before)
    if user_id is None and subscription_id:
        raise Conflict(f"Subscription {subscription_id} is not linked to a user yet.")
    return user_id, subscription_id


async def _lines(context: HandlerContext, invoice: StripeObject) -> list[StripeObject]:
    """The invoice's lines: from the payload when complete, else from Stripe."""
    included = invoice.get("lines")
    if isinstance(included, dict) and not included.get("has_more"):
        return data_list(included)
    async with stripe_errors():
        listing = await context.stripe.v1.invoices.lines.list_async(
            str(invoice["id"]), {"limit": 100}
        )
        return [line.to_dict(for_json=True) async for line in listing.auto_paging_iter()]


async def _credits(
    context: HandlerContext, session: AsyncSession, invoice: StripeObject
) -> tuple[int, GrantTerms]:
    """What the paid invoice is worth, and the terms of its grant; unpriceable prorations
    are told to a person."""
    lines = await priced_lines(context, session, await _lines(context, invoice))
    found = worth(lines, str(invoice.get("currency") or ""), utcnow())
    if found.unpriced:
        reason = "; ".join(found.unpriced)
        logger.warning("proration_not_credited", invoice=invoice.get("id"), reason=reason)
        details: Details = {"invoice": invoice["id"], "reason": reason}
        after_commit(session, partial(alert, "proration_not_credited", **details))
    return found.credits, found.terms


def _payment(
    invoice: StripeObject, user_id: int, subscription_id: str | None, *, paid: bool
) -> recorded_payments.StripePayment:
    """The invoice's payment: what it paid, or what was due when an attempt failed. A failed
    attempt's charge is not recorded: a row keeps the first charge it learns, and that
    must be the one that paid."""
    invoice_id = str(invoice["id"])
    amount = int(invoice.get("amount_paid" if paid else "amount_due") or 0)
    total = int(invoice.get("total") or 0)  # the balance applied is not in `amount_paid`
    return recorded_payments.StripePayment(
        stripe_id=invoice_id,
        kind="invoice",
        user_id=user_id,
        amount=amount,
        credit_basis=total if paid and total > amount else None,
        currency=str(invoice.get("currency") or ""),
        payment_intent_id=invoice_payment_intent_id(invoice),
        charge_id=invoice_charge_id(invoice) if paid else None,
        invoice_id=invoice_id,
        subscription_id=subscription_id,
    )


async def invoice_paid(context: HandlerContext, session: AsyncSession, event: WebhookEvent) -> None:
    invoice = event_object(event)
    invoice_id = str(invoice["id"])
    if invoice.get("status") != "paid" or await recorded_payments.already_succeeded(
        session, invoice_id
    ):
        return  # not paid (yet): its `invoice.paid` will come; or already recorded
    user_id, subscription_id = await _owner(context, session, invoice)
    if user_id is None:
        return
    payment = _payment(invoice, user_id, subscription_id, paid=True)
    credits, terms = await _credits(context, session, invoice)
    key = f"stripe:invoice:{invoice_id}"
    if credits >= 0:
        await recorded_payments.record_purchase(
            session, SUBSCRIPTION_GRANT, payment, credits=credits, key=key, grant=terms
        )
    elif await recorded_payments.record_success(session, payment, credits=0):
        await _take_back(session, invoice_id, subscription_id, -credits, key=key)


async def _take_back(
    session: AsyncSession, invoice_id: str, subscription_id: str | None, due: int, *, key: str
) -> None:
    """A downgrade's claw-back, first from the subscription's current period's grant."""
    row = await recorded_payments.get(session, invoice_id, for_update=True)
    assert row is not None, "recorded just now"
    period = subscription_id and await recorded_payments.last_credited(session, subscription_id)
    await take_back(
        session, row, due, kind=SUBSCRIPTION_CLAWBACK, key=key, prefer_reference=period or None
    )


async def _mark_past_due(session: AsyncSession, subscription_id: str, event: WebhookEvent) -> None:
    """A failed renewal leaves the subscription past due, unless the mirror already
    holds a newer state (or an ended one, which is final). The row is locked and re-read:
    another worker's deletion committed meanwhile is seen, never overwritten."""
    row = await subscription_mirror.by_stripe_id(session, subscription_id, for_update=True)
    if row is None or row.status not in PAST_DUE_FROM or event.created < row.state_at:
        return
    row.status, row.state_at, row.updated_at = "past_due", event.created, utcnow()


async def invoice_payment_failed(
    context: HandlerContext, session: AsyncSession, event: WebhookEvent
) -> None:
    invoice = event_object(event)
    invoice_id = str(invoice["id"])
    user_id, subscription_id = await _owner(context, session, invoice)
    if user_id is None:
        return
    payment = _payment(invoice, user_id, subscription_id, paid=False)
    row = await recorded_payments.record_failure(
        session,
        payment,
        failure_code=None,
        failure_message=f"Payment attempt {invoice.get('attempt_count') or 1} failed.",
    )
    if row.status == SUCCEEDED:
        return  # a failed attempt reported after the invoice was paid: nothing is due
    if subscription_id:
        await _mark_past_due(session, subscription_id, event)
    details: Details = {"invoice": invoice_id, "subscription": subscription_id, "user_id": user_id}
    logger.warning("invoice_payment_failed", **details)
    details |= {"amount": payment.amount, "currency": payment.currency}
    after_commit(session, partial(alert, "payment_failed", **details))


HANDLERS: dict[str, EventHandler] = {
    "invoice.paid": invoice_paid,
    "invoice.payment_succeeded": invoice_paid,
    "invoice.payment_failed": invoice_payment_failed,
}
