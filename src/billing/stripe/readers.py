"""Reading Stripe objects in both API shapes (before and after the 2025-03-31 changes).

Events arrive shaped by the API version of the endpoint or account; an invoice
from 2023 names its subscription at `invoice.subscription`, one from 2026 at
`invoice.parent.subscription_details.subscription`. Everything that reads a
field that moved goes through here, so handlers never care which shape came.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

StripeObject = dict[str, Any]


def object_id(value: Any) -> str | None:
    """An id from a field that may hold an id or an expanded object."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) else None


def _dig(obj: StripeObject, *path: str) -> Any:
    value: Any = obj
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def data_list(value: Any) -> list[StripeObject]:
    """The items of a Stripe list object (or [] when it is absent or collapsed)."""
    items = value.get("data") if isinstance(value, dict) else None
    return [item for item in items or [] if isinstance(item, dict)]


def invoice_subscription_id(invoice: StripeObject) -> str | None:
    return object_id(invoice.get("subscription")) or object_id(
        _dig(invoice, "parent", "subscription_details", "subscription")
    )


def _invoice_payment_field(invoice: StripeObject, field: str) -> str | None:
    """Old shape: the invoice's own `field`; new: its `payments` list, when included."""
    found = object_id(invoice.get(field))
    if found:
        return found
    for payment in data_list(invoice.get("payments")):
        found = object_id(_dig(payment, "payment", field))
        if found:
            return found
    return None


def invoice_payment_intent_id(invoice: StripeObject) -> str | None:
    return _invoice_payment_field(invoice, "payment_intent")


def invoice_subscription_metadata(invoice: StripeObject) -> dict[str, str]:
    """The subscription's metadata as the invoice carries it, in either shape."""
    found = _dig(invoice, "parent", "subscription_details", "metadata")
    old = invoice.get("subscription_details")
    if not isinstance(found, dict) and isinstance(old, dict):
        found = old.get("metadata")
    return found if isinstance(found, dict) else {}


def line_price_id(line: StripeObject) -> str | None:
    """Old shape: `line.price`; new: `line.pricing.price_details.price`."""
    return object_id(line.get("price")) or object_id(
        _dig(line, "pricing", "price_details", "price")
    )


def line_period_end(line: StripeObject) -> datetime | None:
    """The end of the period an invoice line bills (`line.period.end`, in both shapes)."""
    return timestamp(_dig(line, "period", "end"))


def line_is_proration(line: StripeObject) -> bool:
    """Old shape: `line.proration`; new: on the line's parent, a subscription item or
    an invoice item (a proration left pending until the next invoice)."""
    if line.get("proration") is True:
        return True
    return any(
        _dig(line, "parent", details, "proration") is True
        for details in ("subscription_item_details", "invoice_item_details")
    )


def line_is_subscription(line: StripeObject) -> bool:
    """A line billing a subscription item's period (not a one-off invoice item)."""
    if line.get("type") == "subscription":
        return True
    return bool(_dig(line, "parent", "type") == "subscription_item_details")


def subscription_item(subscription: StripeObject) -> StripeObject | None:
    items = data_list(subscription.get("items"))
    return items[0] if items else None


def subscription_period(subscription: StripeObject) -> tuple[datetime | None, datetime | None]:
    """Old shape: on the subscription; new: on its items."""
    start, end = subscription.get("current_period_start"), subscription.get("current_period_end")
    item = subscription_item(subscription)
    if start is None and item is not None:
        start, end = item.get("current_period_start"), item.get("current_period_end")
    return timestamp(start), timestamp(end)


def subscription_price(subscription: StripeObject) -> StripeObject | None:
    """The first item's price (or the legacy `plan`), as an object when expanded."""
    item = subscription_item(subscription)
    price = item.get("price") if item else None
    if isinstance(price, dict):
        return price
    plan = (item or {}).get("plan") or subscription.get("plan")
    return plan if isinstance(plan, dict) else None


def invoice_charge_id(invoice: StripeObject) -> str | None:
    return _invoice_payment_field(invoice, "charge")


NEW_SHAPES_SINCE = "2025-03-31"


def invoice_intent_expansion(api_version: str) -> str:
    """The invoice field to expand for its payment's client secret: `payment_intent`
    before 2025-03-31 (gone since), `confirmation_secret` after (absent before)."""
    return "confirmation_secret" if api_version >= NEW_SHAPES_SINCE else "payment_intent"


def invoice_confirmation(invoice: StripeObject) -> tuple[str | None, str | None]:
    """The payment intent collecting an invoice and its client secret, from the expanded
    `payment_intent` (old shape) or `confirmation_secret` (new). The new shape may name
    the intent only inside its secret, `<intent id>_secret_<...>`, which is also how
    Stripe.js reads it."""
    intent = invoice.get("payment_intent")
    if isinstance(intent, dict):
        secret = intent.get("client_secret")
        return object_id(intent), secret if isinstance(secret, str) else None
    confirmation = invoice.get("confirmation_secret")
    if not isinstance(confirmation, dict) or confirmation.get("type") != "payment_intent":
        return invoice_payment_intent_id(invoice), None
    secret = confirmation.get("client_secret")
    if not isinstance(secret, str):
        return invoice_payment_intent_id(invoice), None
    return invoice_payment_intent_id(invoice) or secret.partition("_secret_")[0], secret
