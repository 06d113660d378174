"""Which catalog prices may be sold, and how: the client names a price, never an amount."""

from __future__ import annotations

from typing import Literal

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog import service as catalog
from billing.catalog.models import Price
from billing.payments.errors import PriceInactive, PriceModeMismatch, UnknownPrice

PriceType = Literal["one_time", "recurring"]


async def sellable_price(
    session: AsyncSession, client: stripe.StripeClient, price_id: str, price_type: PriceType
) -> Price:
    """The catalog's price if it is for sale as `price_type`; a 422 with its reason if not.

    A price of an archived product is not for sale either, though Stripe keeps it active."""
    async with session.begin():
        price = await catalog.get_price(session, client, price_id)
        product = await catalog.get_product(session, price.product_id) if price else None
    if price is None:
        raise UnknownPrice(f"There is no price {price_id}.")
    if not price.active or (product is not None and not product.active):
        raise PriceInactive(f"The price {price_id} is no longer for sale.")
    if price.type != price_type:
        wanted = "a recurring" if price_type == "recurring" else "a one-time"
        raise PriceModeMismatch(f"This purchase needs {wanted} price; {price_id} is not.")
    return price
