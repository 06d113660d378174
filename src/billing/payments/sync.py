"""`billing sync`: bring the local mirrors up to Stripe's present state.

The catalog first, then every known customer's subscriptions, all statuses, so a
subscription that ended while its events were missed ends here too. Each state is
applied with `state_at` = the second its listing began: an event Stripe created
after that is at least as new and still applies; older events change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import stripe
from sqlalchemy import select

from billing.catalog.sync import sync_catalog
from billing.core.times import utcnow
from billing.db.engine import Database
from billing.payments import subscription_mirror
from billing.payments.models import StripeCustomer
from billing.stripe.paging import raw_pages


@dataclass(frozen=True, slots=True)
class SyncCounts:
    products: int
    prices: int
    customers: int
    subscriptions: int


async def sync_all(database: Database, client: stripe.StripeClient) -> SyncCounts:
    """The catalog, then each linked customer's subscriptions; how many of each."""
    products, prices = await sync_catalog(database, client)
    async with database.autocommit() as connection:
        query = (  # an erased customer was deleted at Stripe, its subscriptions canceled
            select(StripeCustomer.stripe_customer_id)
            .where(StripeCustomer.erased_at.is_(None))
            .order_by(StripeCustomer.id)
        )
        customers = list(await connection.scalars(query))
    subscriptions = 0
    for customer_id in customers:
        subscriptions += await sync_subscriptions(database, client, customer_id)
    return SyncCounts(products, prices, len(customers), subscriptions)


async def sync_subscriptions(
    database: Database, client: stripe.StripeClient, customer_id: str
) -> int:
    """Mirror every subscription of one customer, one transaction per page; how many."""
    state_at = utcnow().replace(microsecond=0)
    count = 0
    params = {"customer": customer_id, "status": "all"}
    async for page in raw_pages(client.v1.subscriptions.list_async, params):
        async with database.sessions() as session, session.begin():
            for subscription in sorted(page, key=lambda s: str(s["id"])):  # one lock order
                # A linked customer's: its mirror names the user, whatever the metadata.
                await subscription_mirror.apply(session, subscription, state_at, legacy_before=None)
        count += len(page)
    return count
