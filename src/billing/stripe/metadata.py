"""The metadata the service writes on the Stripe objects it creates, and reads back.

Its keys carry the `billing_` prefix (`billing_user_id`, `billing_purpose`,
`billing_credits`): another integration on the same Stripe account may write a plain
`user_id` on its own customers and payments, and that must never link them to a
platform user, nor grant credits. Before the prefix the service wrote the plain keys;
they are still read, but only on objects Stripe created before the cutoff the operator
sets at the upgrade (`BILLING_LEGACY_METADATA_BEFORE`), so the checkouts, top-ups and
subscriptions the old version began still credit. Without a cutoff they are never read.
When both are present, the prefixed key wins. An object without `created` counts as new.

Catalog metadata (`credits` on Prices and Products) is typed by people in the Dashboard
and keeps its plain names (`catalog.fields`).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from billing.core.ids import parse_user_id
from billing.stripe.readers import StripeObject, invoice_subscription_metadata

PREFIX = "billing_"
USER_ID = "user_id"  # each name is written as PREFIX + name
PURPOSE = "purpose"
CREDITS = "credits"
TOPUP = "topup"  # the purpose of a payment-form top-up's payment intent
AUTO_TOPUP = "auto_topup"  # the purpose of an automatic (off-session) top-up's intent
TOPUP_ID = "topup_id"  # which auto top-up an intent charges for


def written(user_id: int, **fields: str) -> dict[str, str]:
    """The metadata of an object the service creates for `user_id`: `billing_user_id`
    and each of `fields` (`purpose=`, `credits=`) under its prefixed name."""
    values = {USER_ID: str(user_id), **fields}
    return {PREFIX + name: value for name, value in values.items()}


def legacy_seconds(legacy_before: datetime) -> int:
    """The cutoff in Stripe's whole seconds: an object is old when its `created` is less."""
    return math.ceil(legacy_before.timestamp())


def is_legacy(obj: StripeObject, legacy_before: datetime | None) -> bool:
    """Whether Stripe created `obj` before the cutoff (None: no object is)."""
    created = obj.get("created")
    if legacy_before is None or isinstance(created, bool) or not isinstance(created, int):
        return False
    return created < legacy_seconds(legacy_before)


def _value(obj: StripeObject, name: str, legacy_before: datetime | None) -> Any:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return None
    if PREFIX + name in metadata:
        return metadata[PREFIX + name]
    return metadata.get(name) if is_legacy(obj, legacy_before) else None


def metadata_user_id(obj: StripeObject, legacy_before: datetime | None) -> int | None:
    """The platform user the service wrote into an object's metadata, if any."""
    try:
        return parse_user_id(_value(obj, USER_ID, legacy_before))
    except ValueError:
        return None


def checkout_user_id(checkout_session: StripeObject, legacy_before: datetime | None) -> int | None:
    """The platform user of a checkout session the service created: its user metadata,
    which only the service writes. Never `client_reference_id`: on a session made
    elsewhere (a Payment Link's `?client_reference_id=`) the buyer chooses it."""
    return metadata_user_id(checkout_session, legacy_before)


def invoice_user_id(invoice: StripeObject, legacy_before: datetime | None) -> int | None:
    """The user in the subscription's metadata as the invoice carries it. The invoice's
    own `created` decides whether plain keys count: a subscription made before the cutoff
    and renewed after it is linked by the mirrors its own (old) events filled."""
    carried = {
        "metadata": invoice_subscription_metadata(invoice),
        "created": invoice.get("created"),
    }
    return metadata_user_id(carried, legacy_before)


def metadata_purpose(obj: StripeObject, legacy_before: datetime | None) -> str | None:
    value = _value(obj, PURPOSE, legacy_before)
    return value if isinstance(value, str) else None


def metadata_credits(obj: StripeObject, legacy_before: datetime | None) -> int | None:
    """The credits the service wrote into an object's metadata (a top-up's intent, a
    checkout session); None when absent. ValueError when it is not a whole number: the
    service never writes that, so it is a fault for a person, not a value to guess at."""
    return _whole_number(obj, CREDITS, legacy_before)


def metadata_topup_id(obj: StripeObject) -> int | None:
    """The auto top-up an intent charges for (written since auto top-up was built)."""
    return _whole_number(obj, TOPUP_ID, None)


def _whole_number(obj: StripeObject, name: str, legacy_before: datetime | None) -> int | None:
    value = _value(obj, name, legacy_before)
    if value is None:
        return None
    text = str(value)
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{obj.get('id')} has malformed {name} metadata")
    return int(text)
