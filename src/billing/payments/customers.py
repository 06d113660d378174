"""One current Stripe customer per platform user.

Two first requests for one user may race. Both ask Stripe to create the
customer with the same idempotency key (derived from the user id), so Stripe
returns the same customer to both; both then insert the link, and the unique
constraints let exactly one row exist. Nothing is ever created twice.

Erasure (`compliance.erasure`) deletes the customer at Stripe and marks its row
erased: the row stays, so the old customer's late events still find the user
(`user_for_customer`), but it is no longer the user's customer (`customer_id_for`),
and the next payment creates a new one, under a key of its own (the first key would
return the deleted customer).
"""

from __future__ import annotations

import stripe
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.times import utcnow
from billing.db.statements import upsert
from billing.payments.models import StripeCustomer
from billing.stripe.client import derive_key, stripe_errors
from billing.stripe.metadata import written


async def customer_id_for(session: AsyncSession, user_id: int) -> str | None:
    """The user's current customer: none once erased, until the user pays again."""
    query = select(StripeCustomer.stripe_customer_id).where(
        StripeCustomer.user_id == user_id, StripeCustomer.erased_at.is_(None)
    )
    found: str | None = await session.scalar(query)
    return found


async def user_for_customer(session: AsyncSession, customer_id: str) -> int | None:
    """The user a customer is (or was, if erased) for: its events' records are the user's."""
    query = select(StripeCustomer.user_id).where(StripeCustomer.stripe_customer_id == customer_id)
    found: int | None = await session.scalar(query)
    return found


async def link(session: AsyncSession, user_id: int, customer_id: str) -> str | None:
    """Record that `customer_id` is `user_id`'s customer, unless the user already has
    one or the customer is known already (an erased one stays erased); the user's
    current customer id is returned (None: it has none). Runs in the caller's
    transaction."""
    statement = (
        upsert(session.get_bind().dialect.name, StripeCustomer)
        .values(user_id=user_id, stripe_customer_id=customer_id, created_at=utcnow())
        .on_conflict_do_nothing()
    )
    await session.execute(statement)
    return await customer_id_for(session, user_id)


def _creation_key(user_id: int, erased: int) -> str:
    """The key of the user's next customer: the first one's, as always, then one per
    erasure, so racing requests still create one customer and none returns a deleted one."""
    parts = ("customer", str(user_id))
    return derive_key(*parts, f"after-erasure-{erased}") if erased else derive_key(*parts)


async def ensure_customer(session: AsyncSession, client: stripe.StripeClient, user_id: int) -> str:
    """The user's current Stripe customer id, creating the customer on first use (and
    on the first use after an erasure)."""
    async with session.begin():
        existing = await customer_id_for(session, user_id)
        erased = 0
        if existing is None:
            erased = int(
                await session.scalar(
                    select(func.count()).where(
                        StripeCustomer.user_id == user_id, StripeCustomer.erased_at.is_not(None)
                    )
                )
                or 0
            )
    if existing is not None:
        return existing
    async with stripe_errors():
        customer = await client.v1.customers.create_async(
            {"metadata": written(user_id)},
            {"idempotency_key": _creation_key(user_id, erased)},
        )
    async with session.begin():
        stored = await link(session, user_id, customer.id)
    assert stored is not None, "a customer just created is nobody's erased one"
    return stored
