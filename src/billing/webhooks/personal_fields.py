"""Personal data in Stripe event payloads: which fields hold it, and how the inbox keeps it.

Stripe puts a customer's details all over its events: on the customer, in a checkout
session's `customer_details`, a charge's `billing_details`, an invoice's `customer_*`
fields, in lists (a payment intent's `charges.data[]`) and in
`data.previous_attributes`. The inbox stores the value of every field named in
`PERSONAL_FIELDS`, at any depth, encrypted under the personal-data keys
(`core.encryption`): the value (a string, or a whole object such as an address) becomes
`{"$encrypted": "<Fernet token of its JSON>"}`. Everything else stays in clear: ids,
amounts, statuses and metadata, which handlers' queries, erasure's search and the
dashboard read. Objects that describe what is sold (`NOT_PERSONAL_OBJECTS`: a product's
`name` is the merchant's) are left whole, and a value that holds nothing (null, "", an
address of nulls) is left as it is.

- At ingest (`inbox.parse_event`: the webhook route and `billing reconcile` alike),
  `sealed`. The signature was verified on the raw body first, and nothing verifies,
  hashes or compares a stored payload again (duplicates are found by event id; a replay
  only makes the stored event due), so storing it changed is safe.
- For handlers (`handlers.registry`), `readable`: the event with its payload opened, a
  copy that is never written back.
- At erasure, and at ingest for an event of a customer already erased, `scrubbed`: each
  personal value replaced by null, so nothing of it is left, not even encrypted; ids and
  amounts stay for the financial records.
- At key rotation (`compliance.rotation`), `reencrypted`.
- For an admin looking at the inbox, `masked`: each personal value shown as a mark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import orjson
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import inspect

from billing.core.config import Settings
from billing.core.encryption import cipher, decrypt, rotated
from billing.stripe.readers import object_id
from billing.webhooks.models import WebhookEvent

# Field names whose values are a person's details, wherever they appear in a payload.
PERSONAL_FIELDS: Final = frozenset(
    {
        # a customer; anyone named on a shipment, a payment method or a charge
        "email",
        "name",
        "phone",
        "address",
        "shipping",
        # charges, payment methods and payment intents
        "billing_details",
        "receipt_email",
        # invoices
        "customer_email",
        "customer_name",
        "customer_phone",
        "customer_address",
        "customer_shipping",
        "customer_tax_ids",
        # checkout sessions (`collected_information` holds the last two)
        "customer_details",
        "shipping_details",
        "individual_name",
        # a dispute's evidence
        "customer_email_address",
        "billing_address",
        "shipping_address",
        "customer_purchase_ip",
        # where and how a person paid or accepted a mandate, and who a bank says they are
        "ip_address",
        "user_agent",
        "verified_name",
        "verified_address",
        "cardholder_name",
        "payer_email",
        "payer_name",
    }
)
# Generic names that are personal only on one kind of object (by its `object`).
PERSONAL_FIELDS_OF: Final = {"tax_id": frozenset({"value"})}
# Objects (by their `object`) describing what is sold, not who buys: left whole, so a
# product's `name` in a checkout's line items stays readable and is never erased.
NOT_PERSONAL_OBJECTS: Final = frozenset(
    {"product", "price", "plan", "coupon", "promotion_code", "tax_rate", "shipping_rate"}
)
SEALED: Final = "$encrypted"  # the one key of an encrypted value's object
MASK: Final = "[personal data]"  # what an admin sees of a personal value (`masked`)
CONTAINERS: Final = frozenset({dict, list})

JSON = Any
Change = Callable[[JSON], JSON]  # a personal value -> what to store instead (itself: keep)


def _rewrite(node: JSON, change: Change) -> JSON:
    """`node` with `change` applied to the value of each personal field within it: `node`
    itself when nothing changed, else a copy sharing the unchanged parts. It runs on every
    delivery, so it checks exact types (JSON gives no subclasses), descends only into
    containers and copies only what changed."""
    if type(node) is list:
        items: list[JSON] | None = None
        for index, item in enumerate(node):
            new = _rewrite(item, change) if type(item) in CONTAINERS else item
            if new is not item:
                items = items or list(node)
                items[index] = new
        return node if items is None else items
    kind = node.get("object")
    if type(kind) is str and kind in NOT_PERSONAL_OBJECTS:
        return node
    changes: dict[str, JSON] | None = None
    also = PERSONAL_FIELDS_OF.get(kind, frozenset()) if type(kind) is str else frozenset()
    for key, value in node.items():
        if key in PERSONAL_FIELDS or key in also:
            new = change(value)
        elif type(value) in CONTAINERS:
            new = _rewrite(value, change)
        else:
            continue
        if new is not value:
            changes = changes or {}
            changes[key] = new
    return node if changes is None else {**node, **changes}


def _holds_data(value: JSON) -> bool:
    if isinstance(value, dict):
        return any(map(_holds_data, value.values()))
    if isinstance(value, list):
        return any(map(_holds_data, value))
    return value is not None and value != ""


def _is_sealed(value: JSON) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SEALED), str)


def _seal(encrypt: Callable[[bytes], bytes], value: JSON) -> JSON:
    """`value` encrypted, unless it already is or holds nothing."""
    if _is_sealed(value) or not _holds_data(value):
        return value
    return {SEALED: encrypt(orjson.dumps(value)).decode()}


def _encrypt(settings: Settings, data: bytes) -> bytes:
    return cipher(settings).encrypt(data)  # the keys are read only for a value to encrypt


def _open(settings: Settings, value: JSON) -> JSON:
    return orjson.loads(decrypt(settings, value[SEALED])) if _is_sealed(value) else value


def _blank(value: JSON) -> JSON:
    return None if _holds_data(value) else value


def _mask(value: JSON) -> JSON:
    return MASK if _holds_data(value) else value


def _unless_same(payload: dict[str, JSON], rewritten: dict[str, JSON]) -> dict[str, JSON] | None:
    return None if rewritten is payload else rewritten


def sealed(settings: Settings, payload: dict[str, JSON]) -> dict[str, JSON] | None:
    """The payload with each personal value encrypted; None when it holds none (then the
    body is stored exactly as received)."""
    return _unless_same(payload, _rewrite(payload, partial(_seal, partial(_encrypt, settings))))


def opened(settings: Settings, payload: dict[str, JSON]) -> dict[str, JSON]:
    """The payload as Stripe sent it, each encrypted value decrypted
    (`PersonalDataUnreadable` if no configured key reads one)."""
    result: dict[str, JSON] = _rewrite(payload, partial(_open, settings))
    return result


def masked(payload: dict[str, JSON]) -> dict[str, JSON]:
    """The payload for an admin's eyes: each personal value, encrypted or not, shown as
    MASK; ids, amounts, statuses and metadata as stored."""
    result: dict[str, JSON] = _rewrite(payload, _mask)
    return result


def scrubbed(payload: dict[str, JSON]) -> dict[str, JSON] | None:
    """The payload with each personal value, encrypted or not, replaced by null; None
    when none held anything."""
    return _unless_same(payload, _rewrite(payload, _blank))


@dataclass
class Reencryption:
    rotated: int = 0  # values encrypted anew under the newest key
    current: int = 0  # values the newest key already read


def reencrypted(
    payload: dict[str, JSON], newest: Fernet, every_key: MultiFernet
) -> tuple[dict[str, JSON] | None, Reencryption]:
    """The payload with each personal value under the newest key (`every_key`'s first):
    an older key's token encrypted anew, a value stored in clear (by a version that did
    not encrypt payloads) encrypted now; None when all already were. InvalidToken if no
    configured key reads one."""
    counts = Reencryption()

    def rotate(value: JSON) -> JSON:
        if not _is_sealed(value):
            new = _seal(every_key.encrypt, value)
            if new is not value:
                counts.rotated += 1
            return new
        new = rotated(newest, every_key, value[SEALED])
        if new is None:
            counts.current += 1
            return value
        counts.rotated += 1
        return {SEALED: new}

    return _unless_same(payload, _rewrite(payload, rotate)), counts


def customer_of(payload: dict[str, JSON]) -> str | None:
    """The Stripe customer an event is about: its object if that is a customer, else the
    object's `customer`."""
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        return None
    return object_id(obj) if obj.get("object") == "customer" else object_id(obj.get("customer"))


_COLUMNS = tuple(
    attribute.key for attribute in inspect(WebhookEvent).column_attrs if attribute.key != "payload"
)


def readable(settings: Settings, event: WebhookEvent) -> WebhookEvent:
    """The event as its handler reads it, payload opened: a copy, never added to the
    session, so the clear payload can never be flushed back to the inbox."""
    if event.payload is None:
        return event
    payload = opened(settings, event.payload)
    if payload is event.payload:
        return event
    return WebhookEvent(**{key: getattr(event, key) for key in _COLUMNS}, payload=payload)
