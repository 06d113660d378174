"""The catalog mirror: Stripe's products and prices, with the credits each grants.

Stripe is the source of truth; these rows are refreshed by `billing sync` and by
`product.*` / `price.*` events. `CatalogVersion` is bumped by every change so
each process can tell, with one cheap read, whether its cached catalog is stale.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billing.db.types import Base, JSONDocument, UTCDateTime


class Product(Base):
    __tablename__ = "catalog_products"

    stripe_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)
    credits: Mapped[int | None] = mapped_column(BigInteger)  # from metadata `credits`
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONDocument)
    state_at: Mapped[datetime] = mapped_column(UTCDateTime())
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Price(Base):
    __tablename__ = "catalog_prices"

    stripe_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(255), index=True)
    active: Mapped[bool] = mapped_column(Boolean)
    currency: Mapped[str] = mapped_column(String(3))
    unit_amount: Mapped[int | None] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(16))  # one_time | recurring
    interval: Mapped[str | None] = mapped_column(String(16))
    interval_count: Mapped[int | None] = mapped_column(Integer)
    credits: Mapped[int | None] = mapped_column(BigInteger)  # from metadata `credits`
    nickname: Mapped[str | None] = mapped_column(String(255))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONDocument)
    state_at: Mapped[datetime] = mapped_column(UTCDateTime())
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CatalogVersion(Base):
    """A single row whose `version` grows with every catalog change."""

    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
