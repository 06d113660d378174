"""One Stripe customer per user, even when first requests race."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from billing.core.config import Settings
from billing.db.engine import Database
from billing.payments.customers import ensure_customer, user_for_customer
from billing.payments.models import StripeCustomer
from billing.stripe.client import create_client, require_client


async def test_racing_first_requests_create_one_customer(stripe_settings: Settings) -> None:
    database = Database(stripe_settings)
    client = require_client(create_client(stripe_settings))
    user_id = 424242

    async def first_request() -> str:
        async with database.sessions() as session:
            return await ensure_customer(session, client, user_id)

    ids = await asyncio.gather(*(first_request() for _ in range(8)))
    assert len(set(ids)) == 1
    async with database.sessions() as session:
        rows = await session.scalar(select(func.count()).select_from(StripeCustomer))
        assert rows == 1
        assert await user_for_customer(session, ids[0]) == user_id
    customer = await client.v1.customers.retrieve_async(ids[0])
    assert customer.metadata.to_dict() == {"billing_user_id": str(user_id)}
    await database.dispose()
