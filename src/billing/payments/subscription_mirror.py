"""Keeping the local subscription mirror in step with Stripe, whatever order states arrive in.

A state is applied only if it is at least as new as the one stored (`state_at`,
Stripe's event time), and a subscription that ended stays ended: a late
`customer.subscription.updated` can never revive a deleted subscription.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.core.times import utcnow
from billing.db.statements import insert_or_lock, locked
from billing.payments import events
from billing.payments.customers import user_for_customer
from billing.payments.models import SUBSCRIPTION_ENDED, Subscription
from billing.stripe.metadata import metadata_user_id
from billing.stripe.readers import (
    StripeObject,
    object_id,
    subscription_item,
    subscription_period,
    subscription_price,
    timestamp,
)


def _fields(subscription: StripeObject) -> dict[str, Any]:
    """The mirrored columns, read from a subscription in either API shape."""
    price = subscription_price(subscription) or {}
    recurring = price.get("recurring") if isinstance(price.get("recurring"), dict) else {}
    item = subscription_item(subscription) or {}
    start, end = subscription_period(subscription)
    return {
        "status": str(subscription.get("status") or "incomplete"),
        "stripe_customer_id": object_id(subscription.get("customer")) or "",
        "price_id": object_id(price) if price else None,
        "product_id": object_id(price.get("product")),
        "quantity": int(item.get("quantity") or subscription.get("quantity") or 1),
        "currency": price.get("currency"),
        "unit_amount": price.get("unit_amount", price.get("amount")),
        "interval": (recurring or {}).get("interval", price.get("interval")),
        "interval_count": (recurring or {}).get("interval_count", price.get("interval_count")),
        "current_period_start": start,
        "current_period_end": end,
        "cancel_at_period_end": bool(subscription.get("cancel_at_period_end")),
        "canceled_at": timestamp(subscription.get("canceled_at")),
        "ended_at": timestamp(subscription.get("ended_at")),
    }


async def _user_for(
    session: AsyncSession, subscription: StripeObject, legacy_before: datetime | None
) -> int | None:
    """The user metadata on the subscription, else the customer mirror."""
    user_id = metadata_user_id(subscription, legacy_before)
    customer = object_id(subscription.get("customer"))
    if user_id is None and customer:
        user_id = await user_for_customer(session, customer)
    return user_id


async def apply(
    session: AsyncSession,
    subscription: StripeObject,
    state_at: datetime,
    *,
    legacy_before: datetime | None,
) -> Subscription:
    """Store `subscription` as Stripe described it at `state_at`, in the caller's
    transaction, unless a newer or final state is already stored; the row that stands.
    `legacy_before`: the cutoff for plain metadata keys (`stripe.metadata`)."""
    fields = _fields(subscription)
    user_id = await _user_for(session, subscription, legacy_before)
    now = utcnow()
    values = {
        "stripe_subscription_id": str(subscription["id"]),
        "user_id": user_id,
        "created_at": timestamp(subscription.get("created")) or now,
        "state_at": state_at,
        "updated_at": now,
        **fields,
    }
    row, created = await insert_or_lock(session, Subscription, "stripe_subscription_id", values)
    if row.user_id is None and user_id is not None:
        row.user_id = user_id
    if not created and (row.status in SUBSCRIPTION_ENDED or state_at < row.state_at):
        return row
    before = None if created else {name: getattr(row, name) for name in fields}
    for name, value in fields.items():
        setattr(row, name, value)
    row.state_at, row.updated_at = state_at, now
    await audit.record_changes(
        session,
        row,
        "subscription",
        actor="stripe",
        target=row.stripe_subscription_id,
        user_id=row.user_id,
        created=created,
    )
    event = events.subscription_event(created, before, row)
    if event is not None:
        events.subscription_changed(session, event, row)
    return row


async def by_stripe_id(
    session: AsyncSession, subscription_id: str, *, for_update: bool = False
) -> Subscription | None:
    """The mirrored subscription; `for_update` locks its row and re-reads it, so a state
    another worker committed meanwhile is what the caller sees (and waits for)."""
    query = select(Subscription).where(Subscription.stripe_subscription_id == subscription_id)
    found: Subscription | None = await session.scalar(locked(query) if for_update else query)
    return found
