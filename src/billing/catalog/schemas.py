"""The public catalog's body: what a pricing page needs, nothing Stripe-internal."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class CatalogPrice(BaseModel):
    id: str
    currency: str
    unit_amount: int | None = Field(description="In the currency's minor unit.")
    type: Literal["one_time", "recurring"]
    interval: str | None
    interval_count: int | None
    credits: int | None = Field(
        description="Credits one unit grants: the price's own, else its product's."
    )


class CatalogProduct(BaseModel):
    id: str
    name: str
    description: str | None
    credits: int | None
    prices: list[CatalogPrice]


class ProductList(BaseModel):
    data: list[CatalogProduct]
