"""The public catalog, kept rendered in each server process.

Any process may change the catalog (a worker applying `price.updated`, a sync), so
a cache cannot be told directly; instead each request reads `catalog_version` (one
primary-key read) and the body is rebuilt only when that number moved.
"""

from __future__ import annotations

import asyncio

from billing.catalog import repository
from billing.catalog.models import Price, Product
from billing.catalog.schemas import CatalogPrice, CatalogProduct, ProductList
from billing.catalog.service import credits_per_unit
from billing.db.engine import Database
from billing.db.statements import read_without_transaction


class CatalogCache:
    """The rendered product list and the catalog version it was built from."""

    def __init__(self) -> None:
        self._version: int | None = None
        self._body = b""
        self._rebuilding = asyncio.Lock()

    async def products(self, database: Database) -> bytes:
        """The JSON body of `GET /api/stripe/products`, current as of this call."""
        async with database.autocommit() as connection:
            version = await repository.current_version(connection)
        if version == self._version:
            return self._body
        async with self._rebuilding:  # concurrent misses build it once
            if version != self._version:
                # The version was read before the rows: if the catalog changes meanwhile,
                # the body is newer than its label and the next request rebuilds it again.
                self._body = await _render(database)
                self._version = version
        return self._body


async def _render(database: Database) -> bytes:
    async with database.sessions() as session:
        await read_without_transaction(session)
        catalog = await repository.active_catalog(session)
    body = ProductList(data=[_product(product, prices) for product, prices in catalog])
    return body.model_dump_json().encode()


def _product(product: Product, prices: list[Price]) -> CatalogProduct:
    return CatalogProduct(
        id=product.stripe_id,
        name=product.name,
        description=product.description,
        credits=product.credits,
        prices=[
            CatalogPrice(
                id=price.stripe_id,
                currency=price.currency,
                unit_amount=price.unit_amount,
                type="recurring" if price.type == "recurring" else "one_time",
                interval=price.interval,
                interval_count=price.interval_count,
                credits=credits_per_unit(price, product),
            )
            for price in prices
        ],
    )
