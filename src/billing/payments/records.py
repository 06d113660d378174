"""Payments as Stripe reported them, one row each, and the credits they bought.

A row is keyed by the Stripe object that names the payment (the invoice for
invoices, else the payment intent, else the checkout session), so both events
Stripe sends for one invoice, redeliveries and replays all land on one row. A
success is final: a failure reported late (out of order) never overwrites it,
while a success after a failure (a retried card) turns the row succeeded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.accounts import TransactionKind
from billing.credits.service import Transfer, post_within
from billing.db import upsert, utcnow
from billing.observability import PAYMENTS
from billing.payments.models import Payment

SUCCEEDED, FAILED = "succeeded", "failed"
ACTOR = "stripe"
MAX_FAILURE_CODE, MAX_FAILURE_MESSAGE = 64, 500


async def get(session: AsyncSession, stripe_id: str, *, for_update: bool = False) -> Payment | None:
    query = select(Payment).where(Payment.stripe_id == stripe_id)
    found: Payment | None = await session.scalar(query.with_for_update() if for_update else query)
    return found


async def already_succeeded(session: AsyncSession, stripe_id: str) -> bool:
    """True once a payment's success (and so its credits) is recorded: the second of
    `invoice.paid`/`invoice.payment_succeeded`, a redelivery or a replay has nothing to do."""
    found = await get(session, stripe_id)
    return found is not None and found.status == SUCCEEDED


async def _locked_row(session: AsyncSession, stripe_id: str, **values: Any) -> tuple[Payment, bool]:
    """The payment row, inserted with `values` if it is new (then True), locked for update."""
    now = utcnow()
    inserted = await session.scalar(
        upsert(session.get_bind().dialect.name, Payment)
        .values(
            stripe_id=stripe_id,
            credits=0,
            amount_refunded=0,
            amount_disputed=0,
            credits_clawed_back=0,
            credits_unrecovered=0,
            created_at=now,
            updated_at=now,
            **values,
        )
        .on_conflict_do_nothing(index_elements=["stripe_id"])
        .returning(Payment.id)
    )
    row = await session.scalar(
        select(Payment)
        .where(Payment.stripe_id == stripe_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row, inserted is not None


def _fill(row: Payment, **ids: str | int | None) -> None:
    """Set what the row does not know yet; never forget what it knows."""
    for name, value in ids.items():
        if value is not None and getattr(row, name) is None:
            setattr(row, name, value)


async def record_success(
    session: AsyncSession,
    *,
    stripe_id: str,
    kind: str,
    user_id: int | None,
    amount: int,
    currency: str,
    credits: int,
    payment_intent_id: str | None,
    charge_id: str | None,
    invoice_id: str | None,
    subscription_id: str | None,
) -> Payment:
    """Record a successful payment (in the caller's transaction) and the credits it bought."""
    row, inserted = await _locked_row(
        session, stripe_id, kind=kind, status=SUCCEEDED, amount=amount, currency=currency
    )
    if inserted or row.status != SUCCEEDED:
        PAYMENTS.labels(SUCCEEDED).inc()
    row.status, row.amount, row.currency, row.credits = SUCCEEDED, amount, currency, credits
    row.failure_code = row.failure_message = None
    _fill(
        row,
        user_id=user_id,
        payment_intent_id=payment_intent_id,
        charge_id=charge_id,
        invoice_id=invoice_id,
        subscription_id=subscription_id,
    )
    row.updated_at = utcnow()
    return row


async def record_failure(
    session: AsyncSession,
    *,
    stripe_id: str,
    kind: str,
    user_id: int | None,
    amount: int,
    currency: str,
    failure_code: str | None,
    failure_message: str | None,
    invoice_id: str | None,
    subscription_id: str | None,
    payment_intent_id: str | None,
) -> Payment:
    """Record a failed attempt, unless the payment already succeeded (then: unchanged)."""
    row, inserted = await _locked_row(
        session, stripe_id, kind=kind, status=FAILED, amount=amount, currency=currency
    )
    if row.status == SUCCEEDED:
        return row
    if inserted:
        PAYMENTS.labels(FAILED).inc()
    row.amount, row.currency = amount, currency
    row.failure_code = (failure_code or "")[:MAX_FAILURE_CODE] or None
    row.failure_message = (failure_message or "")[:MAX_FAILURE_MESSAGE] or None
    _fill(
        row,
        user_id=user_id,
        payment_intent_id=payment_intent_id,
        invoice_id=invoice_id,
        subscription_id=subscription_id,
    )
    row.updated_at = utcnow()
    return row


async def for_user(session: AsyncSession, user_id: int) -> list[Payment]:
    """A user's payments, newest first."""
    query = (
        select(Payment)
        .where(Payment.user_id == user_id)
        .order_by(Payment.created_at.desc(), Payment.id.desc())
    )
    return list(await session.scalars(query))


async def for_charge(
    session: AsyncSession, payment_intent_id: str | None, charge_id: str | None
) -> Payment | None:
    """The payment a charge collected, locked: matched by its payment intent (top-ups,
    checkouts and invoices all record it) or by the charge itself."""
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
        select(Payment).where(or_(*conditions)).order_by(Payment.id).limit(1).with_for_update()
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
) -> None:
    """Move a payment's credits (bought, or clawed back), once per ledger key; none: no-op."""
    if credits <= 0:
        return
    transfer = Transfer(
        kind, user_id, credits, actor=ACTOR, idempotency_key=key, reference=reference
    )
    await post_within(session, transfer)
