"""GET /api/stripe/products: the shape, the cache, and its invalidation by events
processed anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.catalog import service
from billing.catalog.models import Price
from billing.core.config import Settings
from billing.core.times import utcnow
from billing.db.engine import Database
from tests.conftest import asgi_client
from tests.support.catalog_payloads import deliver, event_body, price_2026, product_2026


async def seed(database: Database, *objects: dict[str, Any]) -> None:
    async with database.sessions() as session, session.begin():
        for obj in objects:
            apply = service.apply_price if obj["object"] == "price" else service.apply_product
            await apply(session, obj, utcnow() - timedelta(minutes=1))


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL the engine runs inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_active_products_with_active_prices_and_credits(
    client: httpx.AsyncClient, database: Database
) -> None:
    pro = product_2026(name="Pro", description="For teams", metadata={"credits": "6000"})
    top_up = product_2026(name="Top-up", description=None)
    archived = product_2026(name="Archived", active=False)
    no_prices = product_2026(name="Nothing to buy")
    monthly = price_2026(pro["id"], id="price_b", unit_amount=5000)
    yearly = price_2026(
        pro["id"],
        id="price_a",
        unit_amount=50000,
        recurring={"interval": "year", "interval_count": 1},
        metadata={"credits": "80000"},
    )
    five = price_2026(
        top_up["id"],
        id="price_c",
        type="one_time",
        recurring=None,
        unit_amount=500,
        currency="eur",
        metadata={"credits": "500"},
    )
    retired = price_2026(top_up["id"], id="price_d", unit_amount=100, active=False)
    hidden = price_2026(archived["id"], id="price_e", unit_amount=1)
    inactive_only = price_2026(no_prices["id"], id="price_f", active=False)
    await seed(database, pro, top_up, archived, no_prices)
    await seed(database, monthly, yearly, five, retired, hidden, inactive_only)

    response = await client.get("/api/stripe/products")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "data": [
            {
                "id": top_up["id"],
                "name": "Top-up",
                "description": None,
                "credits": None,
                "prices": [
                    {
                        "id": "price_c",
                        "currency": "eur",
                        "unit_amount": 500,
                        "type": "one_time",
                        "interval": None,
                        "interval_count": None,
                        "credits": 500,
                    }
                ],
            },
            {
                "id": pro["id"],
                "name": "Pro",
                "description": "For teams",
                "credits": 6000,
                "prices": [
                    {
                        "id": "price_b",
                        "currency": "usd",
                        "unit_amount": 5000,
                        "type": "recurring",
                        "interval": "month",
                        "interval_count": 1,
                        "credits": 6000,  # the product's
                    },
                    {
                        "id": "price_a",
                        "currency": "usd",
                        "unit_amount": 50000,
                        "type": "recurring",
                        "interval": "year",
                        "interval_count": 1,
                        "credits": 80000,  # its own
                    },
                ],
            },
        ]
    }


async def test_no_credentials_needed_and_an_empty_catalog(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/stripe/products")
    assert (response.status_code, response.json()) == (200, {"data": []})


async def test_a_cache_hit_reads_only_the_version(
    client: httpx.AsyncClient, database: Database
) -> None:
    product = product_2026(name="Cached")
    price = price_2026(product["id"], unit_amount=700)
    await seed(database, product, price)
    first = await client.get("/api/stripe/products")
    # Rows changed behind the version's back are not seen: the answer comes from the cache.
    async with database.sessions() as session, session.begin():
        await session.execute(update(Price).values(unit_amount=1))
    with statements(database.engine) as seen:
        second = await client.get("/api/stripe/products")
    assert second.json() == first.json()
    assert second.json()["data"][0]["prices"][0]["unit_amount"] == 700
    assert len(seen) == 1
    assert "catalog_version" in seen[0]


async def test_an_event_processed_by_a_worker_invalidates_every_server(
    settings: Settings, database: Database
) -> None:
    product = product_2026(name="Starter")
    price = price_2026(product["id"], unit_amount=1000)
    await seed(database, product, price)
    async with asgi_client(settings) as server_a, asgi_client(settings) as server_b:
        for server in (server_a, server_b):
            body = (await server.get("/api/stripe/products")).json()
            assert body["data"][0]["prices"][0]["unit_amount"] == 1000
        renamed = {**product, "name": "Starter Plus"}
        archived = {**price, "active": False}
        replacement = price_2026(product["id"], unit_amount=1200, metadata={"credits": "1"})
        now = utcnow()
        assert (
            await deliver(
                database,
                settings,
                event_body("product.updated", renamed, now),
                event_body("price.updated", archived, now),
                event_body("price.created", replacement, now),
            )
            == ["processed"] * 3
        )
        for server in (server_a, server_b):
            [shown] = (await server.get("/api/stripe/products")).json()["data"]
            assert shown["name"] == "Starter Plus"
            assert [(p["id"], p["unit_amount"], p["credits"]) for p in shown["prices"]] == [
                (replacement["id"], 1200, 1)
            ]
