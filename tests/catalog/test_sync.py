"""`sync_catalog` against the sandbox: every page mirrored, archived and deleted objects
inactive, and a newer event's state never overwritten by a sync."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import stripe
from sqlalchemy import func, select

from billing.catalog import service
from billing.catalog.models import Price, Product
from billing.catalog.repository import current_version
from billing.catalog.sync import sync_catalog
from billing.config import Settings
from billing.db import Database, utcnow
from billing.stripe_api import create_client, require_client


@pytest.fixture
def client(stripe_settings: Settings) -> stripe.StripeClient:
    return require_client(create_client(stripe_settings))


@pytest.fixture
async def database(stripe_settings: Settings) -> AsyncIterator[Database]:
    db = Database(stripe_settings)
    yield db
    await db.dispose()


async def rows(database: Database, model: Any) -> dict[str, Any]:
    async with database.sessions() as session:
        return {row.stripe_id: row for row in await session.scalars(select(model))}


async def version(database: Database) -> int:
    async with database.sessions() as session:
        return await current_version(session)


async def test_sync_mirrors_every_page_then_archives_and_deletions(
    database: Database, client: stripe.StripeClient
) -> None:
    pro = await client.v1.products.create_async({"name": "Pro", "metadata": {"credits": "6000"}})
    top_up = await client.v1.products.create_async({"name": "Top-up", "description": "Once"})
    doomed = await client.v1.products.create_async({"name": "Doomed"})
    monthly = await client.v1.prices.create_async(
        {
            "product": pro.id,
            "currency": "usd",
            "unit_amount": 5000,
            "recurring": {"interval": "month"},
        }
    )
    five = await client.v1.prices.create_async(
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
                    await client.v1.products.list_async({"limit": 100})
                ).auto_paging_iter()
            ]
        ),
        len(
            [
                p
                async for p in (
                    await client.v1.prices.list_async({"limit": 100})
                ).auto_paging_iter()
            ]
        ),
    )

    assert await sync_catalog(database, client, page_size=2) == listed
    products, prices = await rows(database, Product), await rows(database, Price)
    assert (len(products), len(prices)) == listed  # every page, not just the first
    assert (products[pro.id].name, products[pro.id].credits, products[pro.id].active) == (
        "Pro",
        6000,
        True,
    )
    assert products[top_up.id].description == "Once"
    assert (prices[monthly.id].interval, prices[monthly.id].unit_amount) == ("month", 5000)
    assert (prices[five.id].type, prices[five.id].credits) == ("one_time", 500)
    assert await version(database) > 0

    settled = await version(database)
    assert await sync_catalog(database, client) == listed
    assert await version(database) == settled  # nothing changed: caches stay valid

    await client.v1.products.update_async(top_up.id, {"active": False})
    await client.v1.prices.update_async(monthly.id, {"active": False})
    await client.v1.products.delete_async(doomed.id)
    # States are whole seconds; a row stated in the sync's own second may be a newer
    # event's, which the sync must not undo. Let that second pass.
    await asyncio.sleep(1.05)
    await sync_catalog(database, client)
    products, prices = await rows(database, Product), await rows(database, Price)
    assert products[top_up.id].active is False  # archived: still listed, inactive
    assert products[doomed.id].active is False  # deleted: no longer listed
    assert products[pro.id].active is True
    assert prices[monthly.id].active is False
    assert prices[five.id].active is True
    assert await version(database) > settled


async def test_sync_does_not_overwrite_a_newer_event(
    database: Database, client: stripe.StripeClient
) -> None:
    product = await client.v1.products.create_async({"name": "Before"})
    newer = {**product.to_dict(), "name": "From a newer event"}
    async with database.sessions() as session, session.begin():
        await service.apply_product(session, newer, utcnow() + timedelta(minutes=1))
    await sync_catalog(database, client)
    async with database.sessions() as session:
        stored = await session.get(Product, product.id)
        assert stored is not None
        assert stored.name == "From a newer event"
        count = await session.scalar(select(func.count()).select_from(Product))
    assert (count or 0) > 1
