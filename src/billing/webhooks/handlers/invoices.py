"""Subscription invoices: credits once per paid invoice, failed payments recorded.

Stripe sends both `invoice.paid` and `invoice.payment_succeeded` for one invoice; both
post under the key `stripe:invoice:{id}`, so the credits land once. By `billing_reason`:
- `subscription_create`, `subscription_cycle`: the plan's credits (each non-proration
  line's price, times its quantity);
- `subscription_update` (a plan change billed now): in proportion to what was paid,
  `floor(plan credits * amount paid / (unit amount * quantity))`, at most one cycle's;
  none, and an alert for a person, when that full amount is unknown (a price without a
  unit amount) or in another currency than the invoice's: no share can be computed;
- anything else (manual invoices, ...): none.
An invoice that collected nothing (a trial, a 100% discount) grants nothing: credits
are bought, never given away by an invoice. Alerts are raised once the event commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog.service import credits_for, get_price
from billing.core.errors import Conflict
from billing.core.times import utcnow
from billing.credits.accounts import SUBSCRIPTION_GRANT
from billing.db.after_commit import after_commit
from billing.obs.alerts import alert
from billing.payments import recorded_payments, subscription_mirror
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
    line_is_proration,
    line_price_id,
    object_id,
)
from billing.webhooks.handlers.context import EventHandler, HandlerContext, event_object
from billing.webhooks.models import WebhookEvent

PLAN_REASONS = ("subscription_create", "subscription_cycle")
PRORATED_REASON = "subscription_update"
PAST_DUE_FROM = ("active", "trialing")  # an incomplete first payment stays incomplete
Details = dict[str, str | int | None]  # of an alert
logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Plan:
    """What invoice lines' prices come to at their quantities."""

    credits: int
    full_amount: int | None  # None: a price's unit amount is unknown
    currencies: frozenset[str]


def prorated_credits(plan_credits: int, amount_paid: int, full_amount: int) -> int:
    """Credits for a mid-cycle plan change: the share of a full cycle actually paid,
    rounded down, never more than one cycle's credits; none when nothing was paid, or
    when the full amount is not known (no share of it can be told)."""
    if plan_credits <= 0 or amount_paid <= 0 or full_amount <= 0:
        return 0
    return min(plan_credits, plan_credits * amount_paid // full_amount)


def _unpriced(plan: Plan, currency: str) -> str | None:
    """Why a plan change's share cannot be computed, if it cannot."""
    if not plan.full_amount:
        return "the full price of the new plan is unknown"
    if plan.currencies != {currency}:
        return f"the plan is priced in {', '.join(sorted(plan.currencies))}, not {currency}"
    return None


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


async def _plan(context: HandlerContext, session: AsyncSession, lines: list[StripeObject]) -> Plan:
    credits = full_amount = 0
    known, currencies = True, set[str]()
    for line in lines:
        price_id = line_price_id(line)
        if price_id is None:
            continue
        quantity = int(line.get("quantity") or 1)
        credits += await credits_for(session, context.stripe, price_id, quantity) or 0
        price = await get_price(session, context.stripe, price_id)
        known = known and price is not None and bool(price.unit_amount)
        if price is not None:
            currencies.add(price.currency)
            full_amount += (price.unit_amount or 0) * quantity
    return Plan(credits, full_amount if known else None, frozenset(currencies))


async def _credits(context: HandlerContext, session: AsyncSession, invoice: StripeObject) -> int:
    paid = int(invoice.get("amount_paid") or 0)
    reason = invoice.get("billing_reason")
    if paid <= 0 or reason not in (*PLAN_REASONS, PRORATED_REASON):
        return 0
    lines = await _lines(context, invoice)
    if reason in PLAN_REASONS:
        plan_lines = [line for line in lines if not line_is_proration(line)]
        return (await _plan(context, session, plan_lines)).credits
    # A plan change: the new plan's lines are the charges; the credited unused time is < 0.
    charged = {line_price_id(line): line for line in lines if int(line.get("amount") or 0) > 0}
    plan = await _plan(context, session, list(charged.values()))
    problem = _unpriced(plan, str(invoice.get("currency") or ""))
    if plan.credits > 0 and problem:
        logger.warning("proration_not_credited", invoice=invoice.get("id"), reason=problem)
        details: Details = {"invoice": invoice["id"], "credits": plan.credits, "reason": problem}
        after_commit(session, partial(alert, "proration_not_credited", **details))
        return 0
    return prorated_credits(plan.credits, paid, plan.full_amount or 0)


def _payment(
    invoice: StripeObject, user_id: int, subscription_id: str | None, *, paid: bool
) -> recorded_payments.StripePayment:
    """The invoice's payment: what it paid, or what was due when an attempt failed. A failed
    attempt's charge is not recorded: a row keeps the first charge it learns, and that
    must be the one that paid."""
    invoice_id = str(invoice["id"])
    return recorded_payments.StripePayment(
        stripe_id=invoice_id,
        kind="invoice",
        user_id=user_id,
        amount=int(invoice.get("amount_paid" if paid else "amount_due") or 0),
        currency=str(invoice.get("currency") or ""),
        payment_intent_id=invoice_payment_intent_id(invoice),
        charge_id=invoice_charge_id(invoice) if paid else None,
        invoice_id=invoice_id,
        subscription_id=subscription_id,
    )


async def invoice_paid(context: HandlerContext, session: AsyncSession, event: WebhookEvent) -> None:
    invoice = event_object(event)
    invoice_id = str(invoice["id"])
    if await recorded_payments.already_succeeded(session, invoice_id):
        return
    user_id, subscription_id = await _owner(context, session, invoice)
    if user_id is None:
        return
    payment = _payment(invoice, user_id, subscription_id, paid=True)
    credits = await _credits(context, session, invoice)
    key = f"stripe:invoice:{invoice_id}"
    await recorded_payments.record_purchase(
        session, SUBSCRIPTION_GRANT, payment, credits=credits, key=key, reference=invoice_id
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
