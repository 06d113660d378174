"""The catalog mirror: applying Stripe states in any order, deletion, credits, and the
fetch from Stripe when a price is not mirrored yet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from sqlalchemy import func, select

from billing.catalog import service
from billing.catalog.models import Price, Product
from billing.core.config import Settings
from billing.core.errors import StripeProblem
from billing.db.engine import Database
from tests.support.catalog_payloads import price_2026, product_2026, stored, version

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


async def apply_product(database: Database, product: dict[str, Any], at: datetime) -> None:
    async with database.sessions() as session, session.begin():
        await service.apply_product(session, product, at)


async def apply_price(database: Database, price: dict[str, Any], at: datetime) -> None:
    async with database.sessions() as session, session.begin():
        await service.apply_price(session, price, at)


async def test_a_price_is_mirrored_with_every_column(database: Database) -> None:
    price = price_2026(
        "prod_A",
        nickname="Monthly",
        currency="EUR",
        unit_amount=1500,
        recurring={"interval": "year", "interval_count": 2, "meter": None},
        metadata={"credits": "1000", "tier": "pro"},
    )
    await apply_price(database, price, T0)
    mirrored = await stored(database, Price, price["id"])
    assert (mirrored.product_id, mirrored.active, mirrored.currency, mirrored.unit_amount) == (
        "prod_A",
        True,
        "eur",
        1500,
    )
    assert (mirrored.type, mirrored.interval, mirrored.interval_count) == ("recurring", "year", 2)
    assert (mirrored.nickname, mirrored.credits, mirrored.metadata_) == (
        "Monthly",
        1000,
        {"credits": "1000", "tier": "pro"},
    )
    assert mirrored.state_at == T0
    assert await version(database) == 1


async def test_an_older_state_changes_nothing_and_a_tie_applies(database: Database) -> None:
    product = product_2026(name="Pro")
    await apply_product(database, product, T0)
    await apply_product(database, {**product, "name": "Old"}, T0 - timedelta(seconds=1))
    mirrored = await stored(database, Product, product["id"])
    assert (mirrored.name, mirrored.state_at) == ("Pro", T0)
    assert await version(database) == 1
    await apply_product(database, {**product, "name": "Same second"}, T0)
    assert (await stored(database, Product, product["id"])).name == "Same second"
    await apply_product(
        database, {**product, "name": "Newer", "active": False}, T0 + timedelta(seconds=1)
    )
    mirrored = await stored(database, Product, product["id"])
    assert (mirrored.name, mirrored.active) == ("Newer", False)
    assert await version(database) == 3


async def test_reapplying_the_same_content_does_not_invalidate_caches(database: Database) -> None:
    price = price_2026("prod_A")
    await apply_price(database, price, T0)
    await apply_price(database, price, T0 + timedelta(seconds=5))
    assert await version(database) == 1
    assert (await stored(database, Price, price["id"])).state_at == T0 + timedelta(seconds=5)


async def test_deletion_is_inactive_and_final(database: Database) -> None:
    product = product_2026(name="Gone")
    await apply_product(database, product, T0)
    await apply_product(database, {**product, "deleted": True}, T0)
    assert (await stored(database, Product, product["id"])).active is False
    # An update from the deletion's own second, processed after it, does not revive it.
    await apply_product(database, {**product, "name": "Late"}, T0)
    mirrored = await stored(database, Product, product["id"])
    assert (mirrored.active, mirrored.name) == (False, "Gone")
    price = price_2026(product["id"])
    await apply_price(database, {**price, "deleted": True}, T0)
    await apply_price(database, price, T0 - timedelta(seconds=30))  # created, delivered late
    assert (await stored(database, Price, price["id"])).active is False


async def test_an_expanded_product_is_stored_with_its_price(database: Database) -> None:
    product = product_2026(name="Bundle", metadata={"credits": "30"})
    price = price_2026(product, metadata={})
    await apply_price(database, price, T0)
    stored_price = await stored(database, Price, price["id"])
    stored_product = await stored(database, Product, product["id"])
    assert stored_price.product_id == product["id"]
    assert (stored_product.name, stored_product.credits) == ("Bundle", 30)
    assert service.credits_per_unit(stored_price, stored_product) == 30
    assert await version(database) == 1  # one change, one bump


async def test_malformed_credits_are_stored_as_none(database: Database) -> None:
    price = price_2026("prod_A", metadata={"credits": "-5"})
    await apply_price(database, price, T0)
    assert (await stored(database, Price, price["id"])).credits is None


async def test_price_credits_win_over_the_product(database: Database) -> None:
    product = product_2026(metadata={"credits": "10"})
    await apply_product(database, product, T0)
    own = price_2026(product["id"], metadata={"credits": "25"})
    inherits = price_2026(product["id"])
    bare = price_2026("prod_without_credits")
    for price in (own, inherits, bare):
        await apply_price(database, price, T0)
    mirrored = await stored(database, Product, product["id"])
    assert service.credits_per_unit(await stored(database, Price, own["id"]), mirrored) == 25
    assert service.credits_per_unit(await stored(database, Price, inherits["id"]), mirrored) == 10
    assert service.credits_per_unit(await stored(database, Price, bare["id"]), None) is None


async def test_racing_workers_store_one_row_and_the_newest_state(database: Database) -> None:
    price = price_2026("prod_A", nickname="v0")
    states = [({**price, "nickname": f"v{n}"}, T0 + timedelta(seconds=n)) for n in range(8)]
    await asyncio.gather(*(apply_price(database, obj, at) for obj, at in reversed(states)))
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Price)) == 1
    mirrored = await stored(database, Price, price["id"])
    assert (mirrored.nickname, mirrored.state_at) == ("v7", T0 + timedelta(seconds=7))
    assert 1 <= await version(database) <= 8


# --- the fetch from Stripe (the sandbox) when the mirror lacks a price ---


async def sandbox_price(
    client: stripe.StripeClient, name: str, credits: int, unit_amount: int
) -> stripe.Price:
    """A one-time price in the sandbox, of a new product granting `credits` per unit."""
    product = await client.v1.products.create_async(
        {"name": name, "metadata": {"credits": str(credits)}}
    )
    return await client.v1.prices.create_async(
        {"product": product.id, "currency": "usd", "unit_amount": unit_amount}
    )


async def test_an_unknown_price_is_fetched_with_its_product_and_stored(
    stripe_database: Database, stripe_api: stripe.StripeClient
) -> None:
    price = await sandbox_price(stripe_api, "Credits pack", credits=40, unit_amount=900)
    async with stripe_database.sessions() as session, session.begin():
        assert await service.credits_for(session, stripe_api, price.id, 3) == 120
    stored_price = await stored(stripe_database, Price, price.id)
    stored_product = await stored(stripe_database, Product, price.product)
    assert (stored_price.unit_amount, stored_price.type, stored_price.credits) == (
        900,
        "one_time",
        None,
    )
    assert (stored_product.name, stored_product.credits) == ("Credits pack", 40)
    assert await version(stripe_database) == 1
    # Now mirrored: answered without Stripe (a client for a dead address would fail).
    offline = stripe.StripeClient("sk_test_x", base_addresses={"api": "http://127.0.0.1:9"})
    async with stripe_database.sessions() as session:
        found = await service.get_price(session, offline, price.id)
        assert found is not None
        assert found.product_id == price.product


async def test_a_price_stripe_does_not_know_is_none(
    stripe_database: Database, stripe_api: stripe.StripeClient
) -> None:
    async with stripe_database.sessions() as session, session.begin():
        assert await service.get_price(session, stripe_api, "price_does_not_exist") is None
        assert await service.credits_for(session, stripe_api, "price_nope", 1) is None
    assert await version(stripe_database) == 0


async def test_a_mirrored_price_whose_product_is_not_fetches_the_product(
    stripe_database: Database, stripe_api: stripe.StripeClient
) -> None:
    price = await sandbox_price(stripe_api, "Late product", credits=15, unit_amount=300)
    await apply_price(stripe_database, price.to_dict(), T0)  # price.created came first
    async with stripe_database.sessions() as session, session.begin():
        assert await service.credits_for(session, stripe_api, price.id, 2) == 30
    assert (await stored(stripe_database, Product, price.product)).name == "Late product"


async def test_stripe_failures_are_stripe_errors(stripe_database: Database) -> None:
    offline = stripe.StripeClient(
        "sk_test_x", base_addresses={"api": "http://127.0.0.1:9"}, max_network_retries=0
    )
    async with stripe_database.sessions() as session:
        with pytest.raises(StripeProblem):
            await service.get_price(session, offline, "price_unmirrored")
