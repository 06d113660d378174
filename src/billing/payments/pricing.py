"""Which catalog prices may be sold, and how: the client names a price, never an amount.

Stripe is asked only for what the catalog mirror lacks, and never while a database
transaction is open: on SQLite a transaction holds the write lock from its first
statement (BEGIN IMMEDIATE), and the webhook worker and every other writer would wait
for as long as Stripe takes. So the mirror is read, Stripe is called with no transaction
open, and what it returned is stored in a short transaction of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog import service as catalog
from billing.catalog.models import Price, Product
from billing.db.statements import read_without_transaction
from billing.payments.errors import PriceInactive, PriceModeMismatch, UnknownPrice
from billing.stripe.client import retrieve_or_none

PriceType = Literal["one_time", "recurring"]


@dataclass(frozen=True, slots=True)
class CatalogPrice:
    """A mirrored price and its product (None while the mirror lacks it)."""

    price: Price
    product: Product | None

    def credits(self, quantity: int) -> int | None:
        """Credits `quantity` units grant; None when neither price nor product grants any."""
        per_unit = catalog.credits_per_unit(self.price, self.product)
        return per_unit * quantity if per_unit is not None else None


async def mirrored(session: AsyncSession, price_id: str) -> CatalogPrice | None:
    """The price and its product as the mirror holds them (in the caller's transaction,
    if any); None when the price is not mirrored."""
    price = await session.get(Price, price_id)
    if price is None:
        return None
    return CatalogPrice(price, await catalog.get_product(session, price.product_id))


async def complete(
    session: AsyncSession,
    client: stripe.StripeClient,
    price_id: str,
    found: CatalogPrice | None,
) -> CatalogPrice | None:
    """`found` with what the mirror lacked fetched from Stripe and stored: the price (with
    its product), or the product of a price that grants no credits itself. None if Stripe
    has no such price. Call it with no transaction open on `session`."""
    if found is None:
        state_at = catalog.snapshot_time()
        fetched = await retrieve_or_none(
            client.v1.prices.retrieve_async(price_id, {"expand": ["product"]})
        )
        if fetched is None:
            return None
        async with session.begin():
            await catalog.apply_price(session, fetched, state_at)
            found = await mirrored(session, str(fetched["id"]))
        assert found is not None
    if found.product is None and found.price.credits is None:
        state_at = catalog.snapshot_time()
        product = await retrieve_or_none(client.v1.products.retrieve_async(found.price.product_id))
        if product is not None:
            async with session.begin():
                await catalog.apply_product(session, product, state_at)
                found = await mirrored(session, found.price.stripe_id)
            assert found is not None
    return found


async def catalog_price(
    session: AsyncSession, client: stripe.StripeClient, price_id: str
) -> CatalogPrice | None:
    """The price from the mirror, read without a transaction (no lock taken), completed
    from Stripe when the mirror lacks it. `session` must not have begun yet."""
    await read_without_transaction(session)
    found = await mirrored(session, price_id)
    await session.commit()  # ends the lock-free read: the session may begin a transaction
    return await complete(session, client, price_id, found)


async def sellable_price(
    session: AsyncSession, client: stripe.StripeClient, price_id: str, price_type: PriceType
) -> CatalogPrice:
    """The catalog's price if it is for sale as `price_type`; a 422 with its reason if not.

    A price of an archived product is not for sale either, though Stripe keeps it active."""
    found = await catalog_price(session, client, price_id)
    if found is None:
        raise UnknownPrice(f"There is no price {price_id}.")
    price, product = found.price, found.product
    if not price.active or (product is not None and not product.active):
        raise PriceInactive(f"The price {price_id} is no longer for sale.")
    if price.type != price_type:
        wanted = "a recurring" if price_type == "recurring" else "a one-time"
        raise PriceModeMismatch(f"This purchase needs {wanted} price; {price_id} is not.")
    return found
