"""product.* and price.* events, in the 2023-10-16 and the 2026 shapes, through the inbox
and the real worker into the catalog mirror."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billing.catalog.models import Price, Product
from billing.core.config import Settings
from billing.db.engine import Database
from tests.support.catalog_payloads import (
    NEW_VERSION,
    OLD_VERSION,
    deliver,
    event_body,
    price_2023,
    price_2026,
    product_2023,
    product_2026,
    stored,
    version,
)

T0 = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
SHAPES = {
    "2023-10-16": (OLD_VERSION, product_2023, price_2023),
    "2026": (NEW_VERSION, product_2026, price_2026),
}


class Shape:
    def __init__(self, name: str) -> None:
        self.api_version, self.product_factory, self.price_factory = SHAPES[name]

    def product(self, **fields: Any) -> dict[str, Any]:
        return self.product_factory(**fields)

    def price(self, product: str, **fields: Any) -> dict[str, Any]:
        return self.price_factory(product, **fields)

    def event(self, event_type: str, obj: dict[str, Any], at: datetime) -> bytes:
        return event_body(event_type, obj, at, self.api_version)


@pytest.fixture(params=sorted(SHAPES))
def shape(request: pytest.FixtureRequest) -> Shape:
    return Shape(request.param)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


async def test_created_events_fill_the_mirror(
    shape: Shape, database: Database, settings: Settings
) -> None:
    product = shape.product(name="Starter", metadata={"credits": "1000"})
    price = shape.price(product["id"], unit_amount=1000, nickname="Monthly")
    outcome = await deliver(
        database,
        settings,
        shape.event("product.created", product, T0),
        shape.event("price.created", price, T0),
    )
    assert outcome == ["processed", "processed"]
    row = await stored(database, Product, product["id"])
    assert (row.name, row.active, row.credits, row.state_at) == ("Starter", True, 1000, T0)
    row = await stored(database, Price, price["id"])
    assert (row.product_id, row.unit_amount, row.interval, row.nickname, row.credits) == (
        product["id"],
        1000,
        "month",
        "Monthly",
        None,
    )
    assert await version(database) == 2


async def test_events_in_reverse_order_end_in_the_newest_state(
    shape: Shape, database: Database, settings: Settings
) -> None:
    price = shape.price("prod_X", unit_amount=1000)
    later = T0 + timedelta(seconds=40)
    raised = {**price, "unit_amount": 1500, "metadata": {"credits": "150"}}
    await deliver(
        database,
        settings,
        shape.event("price.updated", raised, later),
        shape.event("price.created", price, T0),
    )
    row = await stored(database, Price, price["id"])
    assert (row.unit_amount, row.credits, row.state_at) == (1500, 150, later)
    assert await version(database) == 1  # the stale event changed nothing


async def test_deleted_events_make_inactive(
    shape: Shape, database: Database, settings: Settings
) -> None:
    product = shape.product(name="Legacy")
    price = shape.price(product["id"])
    await deliver(
        database,
        settings,
        shape.event("product.created", product, T0),
        shape.event("price.created", price, T0),
    )
    gone = T0 + timedelta(seconds=1)
    outcome = await deliver(
        database,
        settings,
        shape.event("price.deleted", price, gone),
        shape.event("product.deleted", product, gone),
        # Same second as the deletion, processed after it: the deletion stands.
        shape.event("product.updated", {**product, "name": "Revived?"}, gone),
    )
    assert outcome == ["processed"] * 3
    assert (await stored(database, Price, price["id"])).active is False
    row = await stored(database, Product, product["id"])
    assert (row.active, row.name) == (False, "Legacy")
