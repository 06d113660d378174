"""Erasure of a user's personal data, keeping the financial records.

Payments, subscriptions and the credit ledger are kept (financial records are kept
for 7 years, and the ledger is immutable anyway); they name the user only by id.
What identifies the person goes: the email and name on the customer mirror, the
Stripe customer itself (Stripe deletes it with its payment methods and cancels its
subscriptions), and the stored payloads of finished webhook events about the user,
which carry the same details in clear. Events still due keep theirs until handled
(a late refund must still claw back); retention prunes them later.

Erased, the customer is no longer the user's (`payments.customers`): its row stays, so
its late events still name the user, and the next payment creates a new customer, which
a later erasure deletes in turn (the newest customer is the one erased and reported).

Safe to repeat: Stripe's "no such customer" counts as deleted, `erased_at` keeps the
first erasure's time, and a replayed checkout event cannot store the data again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import stripe
from sqlalchemy import BigInteger, ColumnElement, and_, cast, func, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.core.errors import StripeProblem
from billing.core.times import utcnow
from billing.credits.models import CreditTransaction
from billing.db.engine import Database
from billing.db.statements import read_without_transaction
from billing.payments.models import Payment, StripeCustomer, Subscription
from billing.stripe.client import stripe_errors
from billing.stripe.metadata import PREFIX, USER_ID, legacy_seconds
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
        about = _events_about(user_id, customers, legacy_before)
        event_ids = list(await session.scalars(select(WebhookEvent.id).where(about)))
    customer_id = customers[0] if customers else None
    outcome: StripeOutcome = "no_customer"
    if customer_id is not None:
        outcome = await _delete_at_stripe(client, customer_id)
    async with database.sessions() as session, session.begin():
        fields, erased_at = await _anonymise(session, user_id, customers)
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
        row.email_encrypted = row.name_encrypted = None
        row.erased_at = row.erased_at or now
    return held, rows[customers[0]].erased_at


def _object_field(*path: str) -> ColumnElement[str]:
    value: ColumnElement[str] = WebhookEvent.payload[("data", "object", *path)].as_string()
    return value


def _metadata_names(user_id: int, legacy_before: datetime | None) -> ColumnElement[bool]:
    """The event's object names the user in the metadata the service writes: the prefixed
    key, else (on objects created before the cutoff) the plain one."""
    prefixed = _object_field("metadata", PREFIX + USER_ID)
    if legacy_before is None:
        return prefixed == str(user_id)
    created = cast(_object_field("created"), BigInteger)  # unix seconds outlive INTEGER
    legacy = and_(
        prefixed.is_(None),
        _object_field("metadata", USER_ID) == str(user_id),
        created < legacy_seconds(legacy_before),
    )
    return or_(prefixed == str(user_id), legacy)


def _events_about(
    user_id: int, customers: list[str], legacy_before: datetime | None
) -> ColumnElement[bool]:
    """Finished inbox events whose object is the user's: one of its customers, or an object
    carrying one of them or the user's id (as the service writes it on Stripe objects)."""
    matches = [_metadata_names(user_id, legacy_before)]
    matches.append(_object_field("client_reference_id") == str(user_id))
    if customers:
        matches.append(_object_field("customer").in_(customers))
        matches.append(
            and_(_object_field("object") == "customer", _object_field("id").in_(customers))
        )
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
