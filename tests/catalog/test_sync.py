"""`sync_catalog` against the sandbox: every page mirrored, archived and deleted objects
inactive, and a newer event's state never overwritten by a sync."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import stripe
from sqlalchemy import func, select

from billing.catalog import service
from billing.catalog.models import Price, Product
from billing.catalog.sync import sync_catalog
from billing.core.times import utcnow
from billing.db.engine import Database
from tests.support.catalog_payloads import version


async def rows(database: Database, model: Any) -> dict[str, Any]:
    async with database.sessions() as session:
        return {row.stripe_id: row for row in await session.scalars(select(model))}


async def test_sync_mirrors_every_page_then_archives_and_deletions(
    stripe_database: Database, stripe_api: stripe.StripeClient
) -> None:
    pro = await stripe_api.v1.products.create_async(
        {"name": "Pro", "metadata": {"credits": "6000"}}
    )
    top_up = await stripe_api.v1.products.create_async({"name": "Top-up", "description": "Once"})
    doomed = await stripe_api.v1.products.create_async({"name": "Doomed"})
    monthly = await stripe_api.v1.prices.create_async(
        {
            "product": pro.id,
            "currency": "usd",
            "unit_amount": 5000,
            "recurring": {"interval": "month"},
        }
    )
    five = await stripe_api.v1.prices.create_async(
        {
            "product": top_up.id,
            "currency": "usd",
            "unit_amount": 500,
            "metadata": {"credits": "500"},
        }
    )
    listed = (
        len(
            [
                p
                async for p in (
                    await stripe_api.v1.products.list_async({"limit": 100})
                ).auto_paging_iter()
            ]
        ),
        len(
            [
                p
                async for p in (
                    await stripe_api.v1.prices.list_async({"limit": 100})
                ).auto_paging_iter()
            ]
        ),
    )

    assert await sync_catalog(stripe_database, stripe_api, page_size=2) == listed
    products, prices = await rows(stripe_database, Product), await rows(stripe_database, Price)
    assert (len(products), len(prices)) == listed  # every page, not just the first
    assert (products[pro.id].name, products[pro.id].credits, products[pro.id].active) == (
        "Pro",
        6000,
        True,
    )
    assert products[top_up.id].description == "Once"
    assert (prices[monthly.id].interval, prices[monthly.id].unit_amount) == ("month", 5000)
    assert (prices[five.id].type, prices[five.id].credits) == ("one_time", 500)
    assert await version(stripe_database) > 0

    settled = await version(stripe_database)
    assert await sync_catalog(stripe_database, stripe_api) == listed
    assert await version(stripe_database) == settled  # nothing changed: caches stay valid

    await stripe_api.v1.products.update_async(top_up.id, {"active": False})
    await stripe_api.v1.prices.update_async(monthly.id, {"active": False})
    await stripe_api.v1.products.delete_async(doomed.id)
    # States are whole seconds; a row stated in the sync's own second may be a newer
    # event's, which the sync must not undo. Let that second pass.
    await asyncio.sleep(1.05)
    await sync_catalog(stripe_database, stripe_api)
    products, prices = await rows(stripe_database, Product), await rows(stripe_database, Price)
    assert products[top_up.id].active is False  # archived: still listed, inactive
    assert products[doomed.id].active is False  # deleted: no longer listed
    assert products[pro.id].active is True
    assert prices[monthly.id].active is False
    assert prices[five.id].active is True
    assert await version(stripe_database) > settled


async def test_sync_does_not_overwrite_a_newer_event(
    stripe_database: Database, stripe_api: stripe.StripeClient
) -> None:
    product = await stripe_api.v1.products.create_async({"name": "Before"})
    newer = {**product.to_dict(), "name": "From a newer event"}
    async with stripe_database.sessions() as session, session.begin():
        await service.apply_product(session, newer, utcnow() + timedelta(minutes=1))
    await sync_catalog(stripe_database, stripe_api)
    async with stripe_database.sessions() as session:
        stored = await session.get(Product, product.id)
        assert stored is not None
        assert stored.name == "From a newer event"
        count = await session.scalar(select(func.count()).select_from(Product))
    assert (count or 0) > 1
