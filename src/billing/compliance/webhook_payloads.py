"""Stored webhook payloads rewritten in place: erasure scrubs the personal fields of a
user's events, key rotation re-encrypts everyone's (`webhooks.personal_fields`).

Erasure: the events about the user are those whose object is one of its customers, or
carries one of them or the user's id (as the service writes it on Stripe objects:
`billing_user_id`, or a plain `user_id` on objects made before
`BILLING_LEGACY_METADATA_BEFORE`). Each
keeps its ids, amounts and statuses, the financial record (and all a handler still due
reads: a late refund still claws back); every personal field, encrypted or in clear,
becomes null. Events of every status are scrubbed: no handler needs those fields once
the customer is erased (a checkout of an erased customer stores no contact anyway).
It runs once the customer rows are marked erased and committed. From then on the inbox
stores the customer's new events scrubbed already (`webhooks.inbox`), so each event of
the customer is either stored before that commit, and scrubbed here, or after it, and
stored without personal data. (Bar one on PostgreSQL: an insert that read the customer
before the commit and commits after this read the inbox keeps its fields encrypted, a
window of one statement; erasing again scrubs it.)

Both walk the inbox in id order, a batch per short transaction, each row locked while it
is rewritten (workers skip locked events); both are safe to stop and run again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, cast, or_, select, update

from billing.db.engine import Database
from billing.payments.models import Payment
from billing.stripe.metadata import PREFIX, USER_ID, legacy_seconds
from billing.webhooks.models import WebhookEvent
from billing.webhooks.personal_fields import scrubbed

BATCH_SIZE = 500
Payload = dict[str, Any]
# (the event's Stripe id, its stored payload) -> the payload to store instead, or None
Rewrite = Callable[[str, Payload], Payload | None]


def _nothing(rows: int) -> None:
    return None


async def rewrite_payloads(
    database: Database,
    where: ColumnElement[bool],
    rewrite: Rewrite,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int], None] = _nothing,
) -> int:
    """Store `rewrite`'s answer for each payload of the events `where` selects;
    `on_batch(rows)` after each batch is written. How many payloads changed."""
    after, changed = 0, 0
    while True:
        async with database.sessions() as session, session.begin():
            query = (
                select(WebhookEvent.id, WebhookEvent.stripe_event_id, WebhookEvent.payload)
                .where(where, WebhookEvent.payload.is_not(None), WebhookEvent.id > after)
                .order_by(WebhookEvent.id)
                .limit(batch_size)
            )
            if database.dialect == "postgresql":  # SQLite's BEGIN IMMEDIATE locks it all
                query = query.with_for_update(of=WebhookEvent)
            rows = (await session.execute(query)).all()
            changes = [
                {"id": row.id, "payload": payload}
                for row in rows
                if (payload := rewrite(row.stripe_event_id, row.payload)) is not None
            ]
            if changes:
                await session.execute(update(WebhookEvent), changes)
        if not rows:
            return changed
        on_batch(len(rows))
        changed, after = changed + len(changes), rows[-1].id


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


def events_about(
    user_id: int, customers: list[str], legacy_before: datetime | None
) -> ColumnElement[bool]:
    """Inbox events whose object is the user's: one of its customers, or an object
    carrying one of them or the user's id (as the service writes it on Stripe objects)."""
    mine = Payment.user_id == user_id
    matches = [
        _metadata_names(user_id, legacy_before),
        _object_field("client_reference_id") == str(user_id),
        # objects that name no customer, a dispute say, but one of the user's payments
        _object_field("charge").in_(select(Payment.charge_id).where(mine)),
        _object_field("payment_intent").in_(select(Payment.payment_intent_id).where(mine)),
    ]
    if customers:
        formerly = WebhookEvent.payload[("data", "previous_attributes", "customer")]
        matches += [
            _object_field("customer").in_(customers),
            and_(_object_field("object") == "customer", _object_field("id").in_(customers)),
            formerly.as_string().in_(customers),  # a payment method detached from it
        ]
    return or_(*matches)


def _scrubbed(_: str, payload: Payload) -> Payload | None:
    return scrubbed(payload)


async def scrub_events_about(
    database: Database, user_id: int, customers: list[str], legacy_before: datetime | None
) -> int:
    """Scrub the personal fields of every stored event about the user; how many payloads
    held any."""
    about = events_about(user_id, customers, legacy_before)
    return await rewrite_payloads(database, about, _scrubbed)
