"""Prices: one-time and recurring, with lookup keys; the thing subscriptions and Checkout sell."""

from __future__ import annotations

from typing import Any

from localstripe.resources import Product, StripeObject, store

from . import errors, events, pagination, routing
from .params import Params, as_bool, as_dict, as_int, as_list, metadata, reject_unknown, required

_CREATE = (
    "currency",
    "unit_amount",
    "unit_amount_decimal",
    "product",
    "product_data",
    "recurring",
    "lookup_key",
    "transfer_lookup_key",
    "nickname",
    "metadata",
    "active",
    "tax_behavior",
    "billing_scheme",
)
_UPDATE = ("active", "metadata", "nickname", "lookup_key", "transfer_lookup_key", "tax_behavior")
_INTERVALS = ("day", "week", "month", "year")


class Price(StripeObject):
    """A Stripe Price (per-unit billing)."""

    object = "price"
    _id_prefix = "price_"

    def __init__(
        self, product: str, currency: str, unit_amount: int, recurring: dict[str, Any] | None
    ) -> None:
        super().__init__()
        self.active = True
        self.billing_scheme = "per_unit"
        self.currency = currency
        self.custom_unit_amount = None
        self.lookup_key: str | None = None
        self.metadata: dict[str, str] = {}
        self.nickname: str | None = None
        self.product = product
        self.recurring = recurring
        self.tax_behavior = "unspecified"
        self.tiers_mode = None
        self.transform_quantity = None
        self.type = "recurring" if recurring else "one_time"
        self.unit_amount = unit_amount
        self.unit_amount_decimal = str(unit_amount)

    def as_plan(self) -> dict[str, Any]:
        """The same price in the old Plan shape (subscription items carry both)."""
        recurring = self.recurring or {}
        return {
            "id": self.id,
            "object": "plan",
            "active": self.active,
            "amount": self.unit_amount,
            "amount_decimal": self.unit_amount_decimal,
            "billing_scheme": self.billing_scheme,
            "created": self.created,
            "currency": self.currency,
            "interval": recurring.get("interval"),
            "interval_count": recurring.get("interval_count"),
            "livemode": False,
            "metadata": self.metadata,
            "meter": None,
            "nickname": self.nickname,
            "product": self.product,
            "tiers_mode": None,
            "transform_usage": None,
            "trial_period_days": recurring.get("trial_period_days"),
            "usage_type": recurring.get("usage_type", "licensed"),
        }


def retrieve(id: str, param: str = "price") -> Price:
    """A price by id, 404 as Stripe words it."""
    price = store.get("price:" + id)
    if price is None:
        raise errors.no_such("price", id, param)
    return price


def _recurring(value: Any) -> dict[str, Any] | None:
    if value in (None, ""):
        return None
    recurring = as_dict(value, "recurring")
    interval = recurring.get("interval")
    if interval not in _INTERVALS:
        raise errors.invalid(
            "Invalid recurring[interval]: must be one of day, week, month, or year",
            "recurring[interval]",
        )
    return {
        "interval": interval,
        "interval_count": as_int(recurring.get("interval_count", 1), "interval_count"),
        "meter": None,
        "trial_period_days": None,
        "usage_type": "licensed",
        "aggregate_usage": None,
    }


def _product(data: Params) -> str:
    if data.get("product"):
        return str(Product._api_retrieve(str(data["product"])).id)
    product_data = as_dict(required(data, "product_data"), "product_data")
    return str(
        Product(name=product_data.get("name"), metadata=metadata(product_data.get("metadata"))).id
    )


def _claim_lookup_key(key: str | None, transfer: bool) -> None:
    holders = [p for p in pagination.stored("price") if key and p.lookup_key == key]
    if holders and not transfer:
        raise errors.invalid(
            f"A price (`{holders[0].id}`) already uses that lookup key.", "lookup_key"
        )
    for holder in holders:
        holder.lookup_key = None


def build(data: Params) -> Price:
    """A price from Stripe's create parameters (also used by inline `price_data`)."""
    amount = data.get("unit_amount", data.get("unit_amount_decimal"))
    price = Price(
        _product(data),
        str(required(data, "currency")).lower(),
        as_int(required({"unit_amount": amount}, "unit_amount"), "unit_amount"),
        _recurring(data.get("recurring")),
    )
    _apply(price, data)
    return price


def _apply(price: Price, data: Params) -> None:
    if "lookup_key" in data:
        transfer = as_bool(data.get("transfer_lookup_key", False), "transfer_lookup_key")
        _claim_lookup_key(data["lookup_key"] or None, transfer)
        price.lookup_key = data["lookup_key"] or None
    if "active" in data:
        price.active = as_bool(data["active"], "active")
    if "nickname" in data:
        price.nickname = data["nickname"] or None
    if "tax_behavior" in data:
        price.tax_behavior = data["tax_behavior"]
    if "metadata" in data:
        price.metadata = metadata(data["metadata"], price.metadata)


@routing.api("POST", "/v1/prices")
def create(data: Params) -> Price:
    """Create a one-time or recurring price."""
    reject_unknown(data, _CREATE)
    price = build(data)
    events.emit("price.created", price)
    return price


@routing.api("GET", "/v1/prices/{id}")
def get(data: Params) -> Price:
    """Retrieve a price."""
    return retrieve(data["id"], "id")


@routing.api("POST", "/v1/prices/{id}")
def update(data: Params) -> Price:
    """Update the mutable fields of a price."""
    price = retrieve(data.pop("id"), "id")
    reject_unknown(data, _UPDATE)
    before = price._export()
    _apply(price, data)
    events.emit("price.updated", price, events.changes(before, price._export()))
    return price


@routing.api("GET", "/v1/prices")
def list_all(data: Params) -> pagination.Page:
    """Prices newest first, filtered by product, active, type, currency or lookup_keys."""
    reject_unknown(
        data,
        (
            *pagination.PAGE_PARAMS,
            "product",
            "active",
            "type",
            "lookup_keys",
            "currency",
            "recurring",
        ),
    )
    items = pagination.stored("price")
    if data.get("product"):
        items = [p for p in items if p.product == data["product"]]
    if data.get("active") not in (None, ""):
        active = as_bool(data["active"], "active")
        items = [p for p in items if p.active == active]
    if data.get("type"):
        items = [p for p in items if p.type == data["type"]]
    if data.get("currency"):
        items = [p for p in items if p.currency == data["currency"]]
    keys = as_list(data.get("lookup_keys"), "lookup_keys")
    if keys:
        items = [p for p in items if p.lookup_key in keys]
    return pagination.page("/v1/prices", items, data)


def install() -> None:
    """Give localstripe's products today's `updated` field."""
    Product.updated = property(lambda self: self.created)
