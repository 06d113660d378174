"""Erasure of a user's personal data, keeping the financial records.

Payments, subscriptions and the credit ledger are kept (financial records are kept
for 7 years, and the ledger is immutable anyway); they name the user only by id.
What identifies the person goes: the email and name on the customer mirror, the
Stripe customer itself (Stripe deletes it with its payment methods and cancels its
subscriptions), and the personal fields of the stored webhook events about the user
(`webhook_payloads`: their ids and amounts stay, so a late refund still claws back).
The events Stripe sends about the customer afterwards (its `customer.deleted` first)
are stored without personal fields at all (`webhooks.inbox`).

Erased, the customer is no longer the user's (`payments.customers`): its row stays, so
its late events still name the user, and the next payment creates a new customer, which
a later erasure deletes in turn (the newest customer is the one erased and reported).

Safe to repeat: Stripe's "no such customer" counts as deleted, `erased_at` keeps the
first erasure's time, a payload scrubbed has nothing left to scrub, and a replayed
checkout event cannot store the data again. The audit entry is written last, once all
is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import stripe
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.compliance.webhook_payloads import scrub_events_about
from billing.core.errors import StripeProblem
from billing.core.times import utcnow
from billing.credits.models import CreditTransaction
from billing.db.engine import Database
from billing.db.statements import read_without_transaction
from billing.payments.models import Payment, StripeCustomer, Subscription
from billing.stripe.client import stripe_errors

ERASED = "personal_data.erased"
MISSING = "resource_missing"  # Stripe's code for "No such customer"
StripeOutcome = Literal["deleted", "already_deleted", "no_customer"]


@dataclass(frozen=True, slots=True)
class Erasure:
    user_id: int
    stripe_customer_id: str | None
    stripe_customer: StripeOutcome
    fields_erased: list[str]
    webhook_payloads_erased: int
    erased_at: datetime | None
    payments_kept: int
    subscriptions_kept: int
    credit_transactions_kept: int


async def erase_personal_data(
    database: Database,
    client: stripe.StripeClient,
    user_id: int,
    actor: str,
    *,
    legacy_before: datetime | None,
) -> Erasure:
    """Erase the user's personal data at Stripe and here, leaving an audit entry; what
    was erased and kept. Stripe goes first: if it fails nothing here has changed, and a
    retry starts over. `legacy_before`: the cutoff for plain metadata keys
    (`stripe.metadata`)."""
    async with database.sessions() as session:
        await read_without_transaction(session)
        # Newest first: the current customer, if any, is the newest (a user gets a new one
        # only once the one before was erased), else the one erased last.
        customers = list(
            await session.scalars(
                select(StripeCustomer.stripe_customer_id)
                .where(StripeCustomer.user_id == user_id)
                .order_by(StripeCustomer.id.desc())
            )
        )
    customer_id = customers[0] if customers else None
    outcome: StripeOutcome = "no_customer"
    if customer_id is not None:
        outcome = await _delete_at_stripe(client, customer_id)
    async with database.sessions() as session, session.begin():
        fields, erased_at = await _anonymise(session, user_id, customers)
    # Once the customers are marked erased: from then on their events arrive scrubbed.
    scrubbed = await scrub_events_about(database, user_id, customers, legacy_before)
    async with database.sessions() as session, session.begin():
        erasure = Erasure(
            user_id=user_id,
            stripe_customer_id=customer_id,
            stripe_customer=outcome,
            fields_erased=fields,
            webhook_payloads_erased=scrubbed,
            erased_at=erased_at,
            payments_kept=await _count(session, Payment.user_id == user_id),
            subscriptions_kept=await _count(session, Subscription.user_id == user_id),
            credit_transactions_kept=await _count(session, CreditTransaction.user_id == user_id),
        )
        await audit.record(
            session,
            actor=actor,
            action=ERASED,
            target=audit.user_target(user_id),
            user_id=user_id,
            details={
                "stripe_customer_id": customer_id,
                "stripe_customer": outcome,
                "fields_erased": fields,
                "webhook_payloads_erased": scrubbed,
            },
        )
    return erasure


async def _delete_at_stripe(client: stripe.StripeClient, customer_id: str) -> StripeOutcome:
    """Delete the customer at Stripe; one that is already gone is as good."""
    try:
        async with stripe_errors():
            await client.v1.customers.delete_async(customer_id)
    except StripeProblem as exc:
        if exc.extra.get("stripe_code") == MISSING:
            return "already_deleted"
        raise
    return "deleted"


async def _anonymise(
    session: AsyncSession, user_id: int, customers: list[str]
) -> tuple[list[str], datetime | None]:
    """Empty the personal data of the user's customer rows (`customers`, newest first: the
    ones gone at Stripe; one made since stays the user's) and mark them erased: the fields
    that held some, and when the newest was first erased (None without a customer row)."""
    if not customers:
        return [], None
    rows = {
        row.stripe_customer_id: row
        for row in await session.scalars(
            select(StripeCustomer)
            .where(
                StripeCustomer.user_id == user_id,
                StripeCustomer.stripe_customer_id.in_(customers),
            )
            .order_by(StripeCustomer.id)
            .with_for_update()
        )
    }
    held = [
        field
        for field, column in (("email", "email_encrypted"), ("name", "name_encrypted"))
        if any(getattr(row, column) is not None for row in rows.values())
    ]
    now = utcnow()
    for row in rows.values():
        row.email_encrypted = row.name_encrypted = row.email_lookup = None
        row.erased_at = row.erased_at or now
    return held, rows[customers[0]].erased_at


async def _count(session: AsyncSession, condition: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count()).where(condition)) or 0)
