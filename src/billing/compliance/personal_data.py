"""A customer's email and name on the customer mirror, encrypted (`core.encryption`).

Only the customer row holds these values, and erasure empties them for good. The
webhook payloads they arrive in keep theirs encrypted too (`webhooks.personal_fields`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.config import Settings
from billing.core.encryption import email_lookup, encrypt
from billing.payments.models import StripeCustomer
from billing.stripe.readers import object_id


async def remember_contact(
    session: AsyncSession,
    settings: Settings,
    user_id: int,
    email: str | None,
    name: str | None,
    *,
    customer_id: str | None = None,
) -> bool:
    """Store the user's email and name (either may be missing: the stored one stays) on
    its current customer row (only if it is `customer_id`, when given), encrypted; False
    if there is none or its data was erased (a replayed event must not bring erased data
    back, not even onto the customer the user has since paid with). Runs in the caller's
    transaction."""
    values = {
        column: encrypt(settings, value)
        for column, value in (("email_encrypted", email), ("name_encrypted", name))
        if value
    }
    if email:
        values["email_lookup"] = email_lookup(settings, email)
    if not values:
        return False
    conditions = [StripeCustomer.user_id == user_id, StripeCustomer.erased_at.is_(None)]
    if customer_id is not None:
        conditions.append(StripeCustomer.stripe_customer_id == customer_id)
    updated = await session.scalar(
        update(StripeCustomer).where(*conditions).values(**values).returning(StripeCustomer.id)
    )
    return updated is not None


async def remember_checkout_contact(
    session: AsyncSession, settings: Settings, user_id: int, checkout: dict[str, Any]
) -> bool:
    """`remember_contact` from a Checkout Session's `customer_details`, onto the
    session's own customer only (a late session of an erased customer stores nothing)."""
    details = checkout.get("customer_details")
    if not isinstance(details, dict):
        return False
    email, name = details.get("email"), details.get("name")
    return await remember_contact(
        session,
        settings,
        user_id,
        email if isinstance(email, str) else None,
        name if isinstance(name, str) else None,
        customer_id=object_id(checkout.get("customer")),
    )
