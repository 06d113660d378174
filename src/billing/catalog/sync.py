"""`billing sync` for the catalog: every product and price Stripe lists, into the mirror.

Events keep the mirror current; a sync repairs whatever events missed (a mirror
started after the catalog was built, a lost delivery, a deleted product). Each
page is applied in its own transaction with the same staleness rule as events,
so a sync racing with the worker never overwrites a newer event's state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog import repository
from billing.catalog.models import Price, Product
from billing.catalog.repository import CatalogRow
from billing.catalog.service import snapshot_time, store_price, store_product
from billing.db.engine import Database
from billing.stripe.client import stripe_errors
from billing.stripe.readers import StripeObject

PAGE_SIZE = 100  # Stripe's largest page
Item = TypeVar("Item", bound=stripe.StripeObject)
Store = Callable[[AsyncSession, StripeObject, datetime], Awaitable[bool]]


async def sync_catalog(
    database: Database, client: stripe.StripeClient, *, page_size: int = PAGE_SIZE
) -> tuple[int, int]:
    """Mirror every product, then every price; (products, prices) Stripe listed.
    Rows Stripe no longer lists (deleted there) are marked inactive."""
    started = snapshot_time()
    products = _pages(client.v1.products.list_async({"limit": page_size}))
    product_count = await _mirror(database, products, store_product, Product, started)
    prices = _pages(client.v1.prices.list_async({"limit": page_size}))
    price_count = await _mirror(database, prices, store_price, Price, started)
    return product_count, price_count


async def _pages(
    first: Awaitable[stripe.ListObject[Item]],
) -> AsyncIterator[tuple[datetime, list[StripeObject]]]:
    """Each page's objects as dicts, with the time its fetch started."""
    state_at = snapshot_time()
    async with stripe_errors():
        page = await first
    while True:
        yield state_at, [item.to_dict(for_json=True) for item in page.data]
        if not page.has_more:
            return
        state_at = snapshot_time()
        async with stripe_errors():
            page = await page.next_page_async()


async def _mirror(
    database: Database,
    pages: AsyncIterator[tuple[datetime, list[StripeObject]]],
    store: Store,
    model: type[CatalogRow],
    started: datetime,
) -> int:
    seen: set[str] = set()
    async for state_at, objects in pages:
        async with database.sessions() as session, session.begin():
            changed = False
            for obj in sorted(objects, key=_id):  # one lock order for every writer
                changed = await store(session, obj, state_at) or changed
                seen.add(_id(obj))
            if changed:
                await repository.bump_version(session)
    async with database.sessions() as session, session.begin():
        if await repository.deactivate_missing(session, model, seen, started):
            await repository.bump_version(session)
    return len(seen)


def _id(obj: dict[str, Any]) -> str:
    return str(obj["id"])
