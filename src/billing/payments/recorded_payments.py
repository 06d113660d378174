"""Payments as Stripe reported them, one row each, and the credits they bought.

A row is keyed by the Stripe object that names the payment (the invoice for
invoices, else the payment intent, else the checkout session), so both events
Stripe sends for one invoice, redeliveries and replays all land on one row. A
success is final: a failure reported late (out of order) never overwrites it,
while a success after a failure (a retried card) turns the row succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.core.times import utcnow
from billing.credits.accounts import TransactionKind
from billing.credits.grants import GrantTerms
from billing.credits.service import post_within
from billing.credits.transfers import Posted, Transfer
from billing.db.after_commit import after_commit
from billing.db.statements import insert_new, lock_by, locked
from billing.obs.failure_spikes import SPIKES
from billing.obs.metrics import PAYMENTS, series
from billing.payments import events
from billing.payments.events import PaymentObject
from billing.payments.models import FAILED, SUCCEEDED, Payment, PaymentStatus

ACTOR = "stripe"
MAX_FAILURE_CODE, MAX_FAILURE_MESSAGE = 64, 500
# Columns a row takes from the first news that names them, and keeps.
_KEPT = (
    "user_id",
    "payment_intent_id",
    "charge_id",
    "invoice_id",
    "subscription_id",
    "credit_basis",
)


@dataclass(frozen=True, slots=True)
class StripePayment:
    """A payment as one Stripe event describes it: what each record call is told."""

    stripe_id: str
    kind: str
    user_id: int | None
    amount: int
    currency: str
    payment_intent_id: str | None = None
    charge_id: str | None = None
    invoice_id: str | None = None
    subscription_id: str | None = None
    credit_basis: int | None = None  # see `Payment.credit_basis`


async def get(session: AsyncSession, stripe_id: str, *, for_update: bool = False) -> Payment | None:
    """The payment row; `for_update` locks it and re-reads it (`billing.db.statements.locked`)."""
    query = select(Payment).where(Payment.stripe_id == stripe_id)
    found: Payment | None = await session.scalar(locked(query) if for_update else query)
    return found


async def already_succeeded(session: AsyncSession, stripe_id: str) -> bool:
    """True once a payment's success (and so its credits) is recorded: the second of
    `invoice.paid`/`invoice.payment_succeeded`, a redelivery or a replay has nothing to do."""
    found = await get(session, stripe_id)
    return found is not None and found.status == SUCCEEDED


def _settled(
    session: AsyncSession,
    payment: StripePayment,
    outcome: PaymentStatus,
    credits: int,
    failure_code: str | None = None,
    failure_message: str | None = None,
) -> None:
    """A payment's outcome is news: count it once its record commits (a retried event
    counts once) and tell the platform in the same transaction."""
    after_commit(session, partial(series(PAYMENTS, outcome).inc))
    shown = PaymentObject(
        id=payment.stripe_id,
        kind=payment.kind,
        status=outcome,
        amount=payment.amount,
        currency=payment.currency,
        credits=credits,
        failure_code=failure_code,
        failure_message=failure_message,
    )
    events.payment_settled(session, payment.user_id, shown)


async def _insert_new(session: AsyncSession, payment: StripePayment, **columns: object) -> bool:
    """Insert the payment's row, audited, unless it exists; whether it did. Most news of a
    payment is its first, so this is one core INSERT, no ORM row."""
    now = utcnow()
    ids = {name: getattr(payment, name) for name in _KEPT}
    values = {
        "stripe_id": payment.stripe_id,
        "kind": payment.kind,
        "amount": payment.amount,
        "currency": payment.currency,
        "credits": 0,
        "amount_refunded": 0,
        "amount_disputed": 0,
        "credits_clawed_back": 0,
        "credits_unrecovered": 0,
        "created_at": now,
        "updated_at": now,
        **ids,
        **columns,
    }
    if not await insert_new(session, Payment, "stripe_id", values):
        return False
    await audit.record_created(
        session, values, "payment", actor=ACTOR, target=payment.stripe_id, user_id=payment.user_id
    )
    return True


def _update(row: Payment, payment: StripePayment) -> None:
    """Take the amount as now reported and what the row does not know yet (ids, the
    credit basis); never forget what it knows."""
    row.amount, row.currency = payment.amount, payment.currency
    for name in _KEPT:
        value = getattr(payment, name)
        if value is not None and getattr(row, name) is None:
            setattr(row, name, value)
    row.updated_at = utcnow()


async def _audit_update(session: AsyncSession, row: Payment) -> None:
    """What this news from Stripe changed on a known payment row."""
    await audit.record_changes(
        session, row, "payment", actor=ACTOR, target=row.stripe_id, user_id=row.user_id
    )


async def record_success(session: AsyncSession, payment: StripePayment, *, credits: int) -> bool:
    """Record a successful payment (in the caller's transaction) that bought `credits`;
    whether the success is news. A success already recorded stays as it is (its credits
    included) but learns the ids it did not know."""
    if await _insert_new(session, payment, status=SUCCEEDED, credits=credits):
        _settled(session, payment, SUCCEEDED, credits)
        return True
    row = await lock_by(session, Payment, "stripe_id", payment.stripe_id)
    news = row.status != SUCCEEDED
    if news:
        _settled(session, payment, SUCCEEDED, credits)
        row.status, row.credits = SUCCEEDED, credits
        row.failure_code = row.failure_message = None
    _update(row, payment)
    await _audit_update(session, row)
    return news


async def record_purchase(
    session: AsyncSession,
    ledger_kind: TransactionKind,
    payment: StripePayment,
    *,
    credits: int,
    key: str,
    grant: GrantTerms,
) -> None:
    """Record a payment's success and post the credits it bought, in the caller's
    transaction: the credits land once (per `key`, and only with the news of the
    success), together with the row saying so. They open a grant on `grant`'s terms,
    referenced by the payment's `stripe_id`: what a refund or dispute of the payment
    takes back from first (`payments.clawback`)."""
    assert payment.user_id is not None, "credits are posted to a known user only"
    if await record_success(session, payment, credits=credits):
        await post_credits(
            session,
            ledger_kind,
            user_id=payment.user_id,
            credits=credits,
            key=key,
            reference=payment.stripe_id,
            grant=grant,
        )


async def record_failure(
    session: AsyncSession,
    payment: StripePayment,
    *,
    failure_code: str | None,
    failure_message: str | None,
) -> Payment:
    """Record a failed attempt, unless the payment already succeeded (then: unchanged)."""
    code = (failure_code or "")[:MAX_FAILURE_CODE] or None
    message = (failure_message or "")[:MAX_FAILURE_MESSAGE] or None
    columns = {"status": FAILED, "failure_code": code, "failure_message": message}
    if await _insert_new(session, payment, **columns):
        _settled(session, payment, FAILED, 0, code, message)
        after_commit(session, partial(SPIKES.note, "payment_failure"))
        return await lock_by(session, Payment, "stripe_id", payment.stripe_id)
    row = await lock_by(session, Payment, "stripe_id", payment.stripe_id)
    if row.status == SUCCEEDED:
        return row
    row.failure_code, row.failure_message = code, message
    _update(row, payment)
    await _audit_update(session, row)
    return row


async def for_charge(
    session: AsyncSession, payment_intent_id: str | None, charge_id: str | None
) -> Payment | None:
    """The payment a charge collected, locked and re-read: matched by its payment intent
    (top-ups, checkouts and invoices all record it) or by the charge itself. Re-read, as
    the session may still hold the row as read before the lock (earlier in a worker's
    batch), without what another worker committed meanwhile."""
    conditions = []
    if payment_intent_id:
        conditions += [
            Payment.payment_intent_id == payment_intent_id,
            Payment.stripe_id == payment_intent_id,
        ]
    if charge_id:
        conditions.append(Payment.charge_id == charge_id)
    if not conditions:
        return None
    found: Payment | None = await session.scalar(
        locked(select(Payment).where(or_(*conditions)).order_by(Payment.id).limit(1))
    )
    return found


async def last_credited(session: AsyncSession, subscription_id: str) -> str | None:
    """The `stripe_id` of the subscription's newest recorded payment that bought credits:
    the reference of its current period's grant."""
    found: str | None = await session.scalar(
        select(Payment.stripe_id)
        .where(
            Payment.subscription_id == subscription_id,
            Payment.status == SUCCEEDED,
            Payment.credits > 0,
        )
        .order_by(Payment.id.desc())
        .limit(1)
    )
    return found


async def post_credits(
    session: AsyncSession,
    kind: TransactionKind,
    *,
    user_id: int,
    credits: int,
    key: str,
    reference: str,
    grant: GrantTerms | None = None,
    prefer_reference: str | None = None,
) -> Posted | None:
    """Move a payment's credits, once per ledger key (what was posted, or replayed);
    none: no-op (None). Credits open a grant on
    `grant`'s terms (None: the kind's); a claw-back takes from the grants of
    `prefer_reference` first."""
    if credits <= 0:
        return None
    transfer = Transfer(
        kind,
        user_id,
        credits,
        actor=ACTOR,
        idempotency_key=key,
        reference=reference,
        grant=grant,
        prefer_reference=prefer_reference,
    )
    return await post_within(session, transfer)
