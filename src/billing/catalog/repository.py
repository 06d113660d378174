"""Catalog rows: race-safe upserts with staleness, the version counter, the listing.

Writers take row locks in one order (catalog rows first, sorted by id, then the
version row last), so two workers and a sync on PostgreSQL never deadlock.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from billing.catalog.models import CatalogVersion, Price, Product
from billing.core.times import utcnow
from billing.db.statements import insert_or_lock

VERSION_ROW = 1  # seeded by migration 0003
# Stripe never changes a deleted object again: a deletion also outranks events from its
# own second (timestamps are whole seconds) that happen to be processed after it.
DELETION_PRECEDENCE = timedelta(seconds=1)

CatalogRow = TypeVar("CatalogRow", Product, Price)


async def store(
    session: AsyncSession,
    model: type[CatalogRow],
    stripe_id: str,
    fields: dict[str, Any],
    state_at: datetime,
) -> bool:
    """Upsert one row unless a newer state is stored (ties apply); True if its content
    changed. Runs in the caller's transaction and holds the row's lock until it ends."""
    now = utcnow()
    values = {"stripe_id": stripe_id, "state_at": state_at, "synced_at": now, **fields}
    row, inserted = await insert_or_lock(session, model, "stripe_id", values)
    if inserted:
        return True
    if state_at < row.state_at:
        return False
    changed = any(getattr(row, name) != value for name, value in fields.items())
    for name, value in fields.items():
        setattr(row, name, value)
    row.state_at, row.synced_at = state_at, now
    return changed


async def bump_version(session: AsyncSession) -> None:
    """Tell every process's cache the catalog changed; commits with the change itself."""
    await session.execute(
        update(CatalogVersion)
        .where(CatalogVersion.id == VERSION_ROW)
        .values(version=CatalogVersion.version + 1)
    )


async def current_version(connection: AsyncConnection | AsyncSession) -> int:
    found = await connection.scalar(
        select(CatalogVersion.version).where(CatalogVersion.id == VERSION_ROW)
    )
    return int(found or 0)


async def deactivate_missing(
    session: AsyncSession, model: type[CatalogRow], seen: Collection[str], before: datetime
) -> int:
    """Mark inactive the active rows last stated before `before` that are not in `seen`
    (Stripe no longer lists them: deleted); how many changed."""
    rows = await session.scalars(
        select(model)
        .where(model.active.is_(True), model.state_at < before)
        .order_by(model.stripe_id)
        .with_for_update()
    )
    missing = [row for row in rows if row.stripe_id not in seen]
    for row in missing:
        row.active, row.state_at, row.synced_at = False, before, utcnow()
    return len(missing)


async def active_catalog(session: AsyncSession) -> list[tuple[Product, list[Price]]]:
    """Active products that have active prices, each with those prices, in a stable order:
    products by their cheapest price, prices by amount then id."""
    prices = await session.scalars(
        select(Price)
        .join(Product, Product.stripe_id == Price.product_id)
        .where(Price.active.is_(True), Product.active.is_(True))
        .order_by(Price.unit_amount.asc().nulls_last(), Price.stripe_id)
    )
    grouped: dict[str, list[Price]] = {}
    for price in prices:
        grouped.setdefault(price.product_id, []).append(price)
    products = await session.scalars(select(Product).where(Product.stripe_id.in_(list(grouped))))
    by_id = {product.stripe_id: product for product in products}
    return [(by_id[product_id], grouped[product_id]) for product_id in grouped]
