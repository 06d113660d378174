"""Reading the mirrored columns out of Stripe product and price objects.

Both API shapes carry the same price and product fields we mirror (the
2025 changes moved invoice and subscription fields, not these), so one reader
serves every event. Credits come from metadata `credits`, which people type in
Stripe's dashboard: anything but a plain positive integer is refused (logged,
treated as "grants no credits") rather than guessed at. The terms of a plan's credits
are typed there too, and refused (logged, the default taken) the same way:
`credits_expiry` (`never`, `period_end` or `<N>d`) and `credits_priority` (0..100).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog

from billing.stripe.readers import StripeObject, object_id

CREDITS_KEY = "credits"
TRIAL_CREDITS_KEY = "trial_credits"  # what a trial's zero invoice grants (default none)
MAX_CREDITS = 2**53 - 1  # exact in every JSON client, like every ledger amount
_PLAIN_DIGITS = re.compile(r"[0-9]{1,16}")  # 2**53 - 1 has 16 digits; no signs, spaces, "1e3"
NAME_LENGTH = 255  # the column width; a longer Stripe name is cut, not refused
CREDITS_EXPIRY_KEY, CREDITS_PRIORITY_KEY = "credits_expiry", "credits_priority"
MIN_PRIORITY, MAX_PRIORITY = 0, 100  # the ledger's grant priorities (`credits.grants`)
MAX_EXPIRY_DAYS = 36_500
_DAYS = re.compile(r"([0-9]{1,5})d")
_PRIORITY = re.compile(r"[0-9]{1,3}")

logger = structlog.get_logger(__name__)
T = TypeVar("T")


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
    return metadata_value(obj, key, parse_credits)


def metadata_value(obj: StripeObject, key: str, parse: Callable[[Any], T | None]) -> T | None:
    """An object's metadata `key` as `parse` reads it; None when absent or malformed, and
    a malformed value is logged (people type these in the Dashboard)."""
    raw = metadata(obj).get(key)
    if raw is None:
        return None
    value = parse(raw)
    if value is None:
        logger.warning(
            "catalog_credits_invalid",
            object=obj.get("object"),
            id=obj.get("id"),
            key=key,
            value=str(raw)[:40],
        )
    return value


@dataclass(frozen=True, slots=True)
class CreditsExpiry:
    """When a plan's credits expire: never, at the end of the period the invoice line
    paid for (`period_end`: unused credits do not roll over), or `days` after the grant."""

    period_end: bool = False
    days: int | None = None

    def at(self, granted_at: datetime, period_end: datetime | None) -> datetime | None:
        """The expiry of credits granted at `granted_at` for a period ending at
        `period_end` (None: not known, and so never)."""
        if self.days is not None:
            return granted_at + timedelta(days=self.days)
        return period_end if self.period_end else None


NEVER, PERIOD_END = CreditsExpiry(), CreditsExpiry(period_end=True)


def parse_expiry(value: Any) -> CreditsExpiry | None:
    """A metadata `credits_expiry`: `never`, `period_end` or `<N>d` (N from 1 to
    `MAX_EXPIRY_DAYS`); None if it is none of these."""
    if value == "never":
        return NEVER
    if value == "period_end":
        return PERIOD_END
    found = _DAYS.fullmatch(value) if isinstance(value, str) else None
    days = int(found[1]) if found else 0
    return CreditsExpiry(days=days) if 0 < days <= MAX_EXPIRY_DAYS else None


def parse_priority(value: Any) -> int | None:
    """A metadata `credits_priority`: plain digits from 0 to 100; None otherwise."""
    if not isinstance(value, str) or _PRIORITY.fullmatch(value) is None:
        return None
    priority = int(value)
    return priority if MIN_PRIORITY <= priority <= MAX_PRIORITY else None


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
