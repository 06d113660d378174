"""Erasure of a user's personal data, keeping the financial records.

Payments, subscriptions and the credit ledger are kept (financial records are kept
for 7 years, and the ledger is immutable anyway); they name the user only by id.
What identifies the person goes: the email and name on the customer mirror, the
Stripe customer itself (Stripe deletes it with its payment methods and cancels its
subscriptions), and the stored payloads of finished webhook events about the user,
which carry the same details in clear. Events still due keep theirs until handled
(a late refund must still claw back); retention prunes them later.

Safe to repeat: Stripe's "no such customer" counts as deleted, `erased_at` keeps the
first erasure's time, and a replayed checkout event cannot store the data again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import stripe
from sqlalchemy import ColumnElement, and_, func, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.core.errors import StripeProblem
from billing.core.times import utcnow
from billing.credits.models import CreditTransaction
from billing.db.engine import Database
from billing.db.statements import read_without_transaction
from billing.payments.models import Payment, StripeCustomer, Subscription
from billing.stripe.client import stripe_errors
from billing.webhooks.models import DONE_STATUSES, WebhookEvent

BATCH_SIZE = 500
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
    database: Database, client: stripe.StripeClient, user_id: int, actor: str
) -> Erasure:
    """Erase the user's personal data at Stripe and here, leaving an audit entry; what
    was erased and kept. Stripe goes first: if it fails nothing here has changed, and a
    retry starts over."""
    async with database.sessions() as session:
        await read_without_transaction(session)
        customer_id = await session.scalar(
            select(StripeCustomer.stripe_customer_id).where(StripeCustomer.user_id == user_id)
        )
        about = _events_about(user_id, customer_id)
        event_ids = list(await session.scalars(select(WebhookEvent.id).where(about)))
    outcome: StripeOutcome = "no_customer"
    if customer_id is not None:
        outcome = await _delete_at_stripe(client, customer_id)
    async with database.sessions() as session, session.begin():
        fields, erased_at = await _anonymise(session, user_id)
        pruned = await _prune_events(session, event_ids, about)
        erasure = Erasure(
            user_id=user_id,
            stripe_customer_id=customer_id,
            stripe_customer=outcome,
            fields_erased=fields,
            webhook_payloads_erased=pruned,
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
                "webhook_payloads_erased": pruned,
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


async def _anonymise(session: AsyncSession, user_id: int) -> tuple[list[str], datetime | None]:
    """Empty the customer row's personal data: the fields that held some, and when the
    user was first erased (None without a customer row)."""
    row = await session.scalar(
        select(StripeCustomer).where(StripeCustomer.user_id == user_id).with_for_update()
    )
    if row is None:
        return [], None
    held = [
        field
        for field, token in (("email", row.email_encrypted), ("name", row.name_encrypted))
        if token is not None
    ]
    row.email_encrypted = row.name_encrypted = None
    row.erased_at = row.erased_at or utcnow()
    return held, row.erased_at


def _events_about(user_id: int, customer_id: str | None) -> ColumnElement[bool]:
    """Finished inbox events whose object is the user's: its customer, or an object
    carrying the customer or the user's id (as the service writes it on Stripe objects)."""

    def field(*path: str) -> ColumnElement[str]:
        value: ColumnElement[str] = WebhookEvent.payload[("data", "object", *path)].as_string()
        return value

    matches = [field("metadata", "user_id") == str(user_id)]
    matches.append(field("client_reference_id") == str(user_id))
    if customer_id is not None:
        matches.append(field("customer") == customer_id)
        matches.append(and_(field("object") == "customer", field("id") == customer_id))
    return and_(
        WebhookEvent.status.in_(DONE_STATUSES),
        WebhookEvent.payload.is_not(None),
        or_(*matches),
    )


async def _prune_events(
    session: AsyncSession, event_ids: list[int], about: ColumnElement[bool]
) -> int:
    pruned = 0
    for start in range(0, len(event_ids), BATCH_SIZE):
        batch = event_ids[start : start + BATCH_SIZE]
        changed = await session.scalars(
            update(WebhookEvent)
            .where(WebhookEvent.id.in_(batch), about)
            .values(payload=null())  # SQL NULL: a None would be stored as JSON null
            .returning(WebhookEvent.id)
        )
        pruned += len(changed.all())
    return pruned


async def _count(session: AsyncSession, condition: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count()).where(condition)) or 0)
