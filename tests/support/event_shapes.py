"""Event payloads in one API shape each, built from Stripe's current fixture (fixtures3.json).

`NEW` (2026-07-29.dahlia) is the fixture as published. `OLD` (2023-10-16) drops the
fields that did not exist then (compared with Stripe's published OpenAPI spec of
2023-08-16) and puts back the ones that moved in 2025:
`invoice.subscription`/`payment_intent`/`charge`/`subscription_details`,
`line.price`/`proration`/`type`, `subscription.current_period_*` on the subscription.
Nothing here is mixed: each payload is purely one shape.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from functools import cache
from typing import Any

from tests.support.stripe_reference import FIXTURES

OLD, NEW = "2023-10-16", "2026-07-29.dahlia"
SHAPES = (OLD, NEW)

# Top-level fields of today's objects that the 2023 API did not have.
NEW_ONLY: dict[str, tuple[str, ...]] = {
    "invoice": (
        "amount_overpaid",
        "automatically_finalizes_at",
        "customer_account",
        "issuer",
        "parent",
        "rendering",
        "total_pretax_credit_amounts",
        "total_taxes",
    ),
    "line_item": (
        "invoice",
        "parent",
        "pretax_credit_amounts",
        "pricing",
        "quantity_decimal",
        "subtotal",
        "taxes",
    ),
    "subscription": (
        "billing_cycle_anchor_config",
        "billing_mode",
        "billing_schedules",
        "customer_account",
        "discounts",
        "invoice_settings",
        "managed_payments",
    ),
    "subscription_item": ("current_period_end", "current_period_start", "discounts", "plan"),
    "checkout.session": (
        "adaptive_pricing",
        "client_secret",
        "collected_information",
        "customer_account",
        "discounts",
        "integration_identifier",
        "managed_payments",
        "origin_context",
        "payment_method_configuration_details",
        "permissions",
        "saved_payment_method_options",
        "ui_mode",
        "wallet_options",
    ),
    "payment_intent": (
        "customer_account",
        "excluded_payment_method_types",
        "managed_payments",
        "payment_method_configuration_details",
        "source",
    ),
    "charge": ("source",),
    "dispute": ("enhanced_eligibility_types",),
    "item": ("adjustable_quantity", "metadata"),
}


@cache
def _resources() -> dict[str, Any]:
    resources: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"]
    return resources


def resource(kind: str, version: str, **fields: Any) -> dict[str, Any]:
    """Stripe's fixture for `kind` in `version`'s shape, with `fields` set."""
    obj: dict[str, Any] = copy.deepcopy(_resources()[kind])
    if version == OLD:
        for name in NEW_ONLY.get(kind, ()):
            obj.pop(name, None)
    obj.update(fields)
    return obj


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def event(
    version: str,
    event_type: str,
    obj: dict[str, Any],
    *,
    created: int | None = None,
    previous_attributes: dict[str, Any] | None = None,
) -> bytes:
    """A Stripe event envelope around `obj`, as an endpoint on `version` receives it."""
    data: dict[str, Any] = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    envelope = {
        **_resources()["event"],
        "id": new_id("evt"),
        "api_version": version,
        "created": int(time.time()) if created is None else created,
        "data": data,
        "type": event_type,
        "pending_webhooks": 1,
    }
    return json.dumps(envelope).encode()


def line_item(
    version: str,
    *,
    price: dict[str, Any],
    quantity: int,
    amount: int,
    proration: bool = False,
    invoice_item: bool = False,
) -> dict[str, Any]:
    """An invoice line at `price`: a subscription item's, or with `invoice_item` one made
    from an invoice item (a one-off charge, or a proration left pending until this invoice)."""
    line = resource(
        "line_item", version, id=new_id("il"), amount=amount, quantity=quantity, metadata={}
    )
    item_id, invoice_item_id = (None, new_id("ii")) if invoice_item else (new_id("si"), None)
    details = {
        "invoice_item": invoice_item_id,
        "proration": proration,
        "proration_details": {"credited_items": None},
        "subscription": None,
    }
    if version == OLD:
        line.update(
            price=price,
            proration=proration,
            type="invoiceitem" if invoice_item else "subscription",
            subscription_item=item_id,
            invoice_item=invoice_item_id,
            proration_details={"credited_items": None},
        )
        return line
    kind = "invoice_item_details" if invoice_item else "subscription_item_details"
    line["parent"] = {
        "type": kind,
        "invoice_item_details": details if invoice_item else None,
        "subscription_item_details": None
        if invoice_item
        else details | {"subscription_item": item_id},
    }
    line["pricing"] = {
        "type": "price_details",
        "price_details": {"price": price["id"], "product": price["product"]},
        "unit_amount_decimal": str(price["unit_amount"]),
    }
    return line


def invoice(
    version: str,
    *,
    customer: str,
    subscription: str | None,
    billing_reason: str,
    lines: list[dict[str, Any]],
    amount_paid: int,
    amount_due: int | None = None,
    status: str = "paid",
    subscription_metadata: dict[str, str] | None = None,
    payment_intent: str | None = None,
    charge: str | None = None,
    invoice_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An invoice; the payment intent and charge appear only in the old shape (today's
    invoices name them only through the separately listed invoice payments). `extra`
    sets more fields (tax, `starting_balance`, ...)."""
    obj = resource(
        "invoice",
        version,
        id=invoice_id or new_id("in"),
        customer=customer,
        billing_reason=billing_reason,
        status=status,
        amount_paid=amount_paid,
        amount_due=amount_paid if amount_due is None else amount_due,
        amount_remaining=0 if status == "paid" else (amount_due or 0),
        attempt_count=1,
        attempted=True,
        lines={"object": "list", "data": lines, "has_more": False, "url": "/v1/invoices/x/lines"},
        **{"total": sum(line["amount"] for line in lines), **extra},
        subtotal=sum(line["amount"] for line in lines),
    )
    if version == OLD:
        obj.update(
            subscription=subscription,
            subscription_details={"metadata": subscription_metadata or {}},
            payment_intent=payment_intent,
            charge=charge,
            paid=status == "paid",
            paid_out_of_band=False,
        )
    else:
        obj.pop("subscription", None)
        obj["parent"] = (
            {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "metadata": subscription_metadata or {},
                    "subscription": subscription,
                },
            }
            if subscription
            else None
        )
    return obj


def plan_invoice(
    version: str,
    plan: dict[str, Any],
    *,
    quantity: int = 1,
    billing_reason: str = "subscription_cycle",
    **fields: Any,
) -> dict[str, Any]:
    """A subscription invoice of one line, `quantity` of `plan`, paid in full unless
    `fields` (the rest of `invoice`'s arguments) say otherwise."""
    amount = int(plan["unit_amount"]) * quantity
    line = line_item(version, price=plan, quantity=quantity, amount=amount)
    defaults = {"billing_reason": billing_reason, "lines": [line], "amount_paid": amount}
    return invoice(version, **{**defaults, **fields})


def subscription(
    version: str,
    *,
    subscription_id: str,
    customer: str,
    price: dict[str, Any],
    status: str,
    period: tuple[int, int],
    quantity: int = 1,
    metadata: dict[str, str] | None = None,
    cancel_at_period_end: bool = False,
    ended_at: int | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    """A one-item subscription; its period on the subscription (old) or on the item (new)."""
    item = resource(
        "subscription_item",
        version,
        id=new_id("si"),
        price=price,
        quantity=quantity,
        subscription=subscription_id,
        metadata={},
    )
    obj = resource(
        "subscription",
        version,
        id=subscription_id,
        customer=customer,
        status=status,
        metadata=metadata or {},
        items={"object": "list", "data": [item], "has_more": False, "url": "/v1/x"},
        cancel_at_period_end=cancel_at_period_end,
        cancel_at=None,
        canceled_at=ended_at,
        ended_at=ended_at,
        trial_end=None,
        trial_start=None,
        created=period[0] if created is None else created,
        start_date=period[0] if created is None else created,
    )
    if version == OLD:
        obj.update(current_period_start=period[0], current_period_end=period[1], discount=None)
    else:
        item.update(current_period_start=period[0], current_period_end=period[1])
    return obj


def checkout_session(version: str, **fields: Any) -> dict[str, Any]:
    return resource(
        "checkout.session",
        version,
        **{"id": new_id("cs_test"), "status": "complete", "currency": "usd", **fields},
    )


def payment_intent(version: str, **fields: Any) -> dict[str, Any]:
    return resource(
        "payment_intent",
        version,
        **{"id": new_id("pi"), "currency": "usd", "last_payment_error": None, **fields},
    )


def charge(version: str, **fields: Any) -> dict[str, Any]:
    obj = resource(
        "charge", version, **{"id": new_id("ch"), "currency": "usd", "captured": True, **fields}
    )
    if version == OLD:
        obj.setdefault("invoice", None)
    return obj


def dispute(version: str, **fields: Any) -> dict[str, Any]:
    return resource("dispute", version, **{"id": new_id("dp"), **fields})


def checkout_item(version: str, *, price: dict[str, Any], quantity: int) -> dict[str, Any]:
    """A checkout session's line item (`line_items.data[]`)."""
    amount = int(price["unit_amount"]) * quantity
    return resource(
        "item",
        version,
        id=new_id("li"),
        price=price,
        quantity=quantity,
        amount_subtotal=amount,
        amount_total=amount,
    )
