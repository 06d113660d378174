"""Reading the mirrored columns out of Stripe product and price objects.

Both API shapes carry the same price and product fields we mirror (the
2025 changes moved invoice and subscription fields, not these), so one reader
serves every event. Credits come from metadata `credits`, which people type in
Stripe's dashboard: anything but a plain positive integer is refused (logged,
treated as "grants no credits") rather than guessed at.
"""

from __future__ import annotations

import re
from typing import Any

import structlog

from billing.stripe.readers import StripeObject, object_id

CREDITS_KEY = "credits"
TRIAL_CREDITS_KEY = "trial_credits"  # what a trial's zero invoice grants (default none)
MAX_CREDITS = 2**53 - 1  # exact in every JSON client, like every ledger amount
_PLAIN_DIGITS = re.compile(r"[0-9]{1,16}")  # 2**53 - 1 has 16 digits; no signs, spaces, "1e3"
NAME_LENGTH = 255  # the column width; a longer Stripe name is cut, not refused

logger = structlog.get_logger(__name__)


def parse_credits(value: Any) -> int | None:
    """A metadata `credits` value as a positive integer, or None if it is not one."""
    if not isinstance(value, str) or _PLAIN_DIGITS.fullmatch(value) is None:
        return None
    credits = int(value)
    return credits if 0 < credits <= MAX_CREDITS else None


def metadata(obj: StripeObject) -> dict[str, Any]:
    found = obj.get("metadata")
    return dict(found) if isinstance(found, dict) else {}


def credits_from(obj: StripeObject, key: str = CREDITS_KEY) -> int | None:
    """The credits an object's metadata `key` grants; a malformed value is logged, never
    guessed."""
    raw = metadata(obj).get(key)
    if raw is None:
        return None
    credits = parse_credits(raw)
    if credits is None:
        logger.warning(
            "catalog_credits_invalid",
            object=obj.get("object"),
            id=obj.get("id"),
            key=key,
            value=str(raw)[:40],
        )
    return credits


def is_deleted(obj: StripeObject) -> bool:
    return obj.get("deleted") is True


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _text(value: Any) -> str | None:
    """A short text column's value, cut to the column's width."""
    found = _string(value)
    return found[:NAME_LENGTH] if found is not None else None


def _integer(value: Any) -> int | None:
    return value if type(value) is int else None


def product_fields(product: StripeObject) -> dict[str, Any]:
    """The `Product` columns (besides id and times) that `product` describes."""
    return {
        "name": _text(product.get("name")) or "",
        "description": _string(product.get("description")),
        "active": product.get("active") is True and not is_deleted(product),
        "credits": credits_from(product),
        "metadata_": metadata(product),
    }


def price_fields(price: StripeObject) -> dict[str, Any]:
    """The `Price` columns (besides id and times) that `price` describes."""
    recurring = price.get("recurring")
    recurring = recurring if isinstance(recurring, dict) else {}
    kind = price.get("type")
    return {
        "product_id": object_id(price.get("product")) or "",
        "active": price.get("active") is True and not is_deleted(price),
        "currency": str(price.get("currency") or "").lower(),
        "unit_amount": _integer(price.get("unit_amount")),
        "type": kind if kind in ("one_time", "recurring") else _kind(recurring),
        "interval": _text(recurring.get("interval")),
        "interval_count": _integer(recurring.get("interval_count")),
        "credits": credits_from(price),
        "nickname": _text(price.get("nickname")),
        "metadata_": metadata(price),
    }


def _kind(recurring: dict[str, Any]) -> str:
    return "recurring" if recurring else "one_time"


def expanded_product(price: StripeObject) -> StripeObject | None:
    """The price's product when it came expanded (a whole product, not just an id)."""
    product = price.get("product")
    if isinstance(product, dict) and product.get("object") == "product" and "name" in product:
        return product
    return None
