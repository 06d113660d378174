"""One Stripe customer per platform user.

Two first requests for one user may race. Both ask Stripe to create the
customer with the same idempotency key (derived from the user id), so Stripe
returns the same customer to both; both then insert the link, and the unique
constraints let exactly one row exist. Nothing is ever created twice.
"""

from __future__ import annotations

import stripe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.times import utcnow
from billing.db.statements import upsert
from billing.payments.models import StripeCustomer
from billing.stripe.client import derive_key, stripe_errors


async def customer_id_for(session: AsyncSession, user_id: int) -> str | None:
    query = select(StripeCustomer.stripe_customer_id).where(StripeCustomer.user_id == user_id)
    found: str | None = await session.scalar(query)
    return found


async def user_for_customer(session: AsyncSession, customer_id: str) -> int | None:
    query = select(StripeCustomer.user_id).where(StripeCustomer.stripe_customer_id == customer_id)
    found: int | None = await session.scalar(query)
    return found


async def link(session: AsyncSession, user_id: int, customer_id: str) -> str:
    """Record that `customer_id` is `user_id`'s customer, unless the user already has
    one; the customer id that stands is returned. Runs in the caller's transaction."""
    statement = (
        upsert(session.get_bind().dialect.name, StripeCustomer)
        .values(user_id=user_id, stripe_customer_id=customer_id, created_at=utcnow())
        .on_conflict_do_nothing()
    )
    await session.execute(statement)
    stored = await customer_id_for(session, user_id)
    assert stored is not None
    return stored


async def ensure_customer(session: AsyncSession, client: stripe.StripeClient, user_id: int) -> str:
    """The user's Stripe customer id, creating the customer on first use."""
    async with session.begin():
        existing = await customer_id_for(session, user_id)
    if existing is not None:
        return existing
    async with stripe_errors():
        customer = await client.v1.customers.create_async(
            {"metadata": {"user_id": str(user_id)}},
            {"idempotency_key": derive_key("customer", str(user_id))},
        )
    async with session.begin():
        return await link(session, user_id, customer.id)
