"""Checkout Sessions (payment and subscription modes): the API side."""

from __future__ import annotations

import time
from typing import Any

from localstripe.resources import Customer, Product, StripeObject, store

from . import bank_debits, context, errors, events, pagination, prices, routing
from .params import Params, as_dict, as_int, as_list, metadata, reject_unknown, required

_CREATE = (
    "mode",
    "line_items",
    "success_url",
    "cancel_url",
    "customer",
    "customer_email",
    "client_reference_id",
    "metadata",
    "payment_intent_data",
    "subscription_data",
    "payment_method_types",
    "allow_promotion_codes",
    "customer_creation",
    "expires_at",
    "billing_address_collection",
    "locale",
    "currency",
    "ui_mode",
    "submit_type",
    "automatic_tax",
    "phone_number_collection",
    "payment_method_collection",
    "invoice_creation",
    "consent_collection",
    "custom_text",
    "tax_id_collection",
    "saved_payment_method_options",
)
_LIFETIME = 24 * 3600


class CheckoutItem(StripeObject):
    """A line of a Checkout Session (object `item`)."""

    object = "item"
    _id_prefix = "li_"

    def __init__(self, price: prices.Price, quantity: int) -> None:
        super().__init__()
        self.price = price
        self.quantity = quantity
        self.currency = price.currency
        self.description = Product._api_retrieve(price.product).name
        self.metadata: dict[str, str] = {}
        self.adjustable_quantity = None
        self.amount_discount = 0
        self.amount_tax = 0
        self.amount_subtotal = self.amount_total = price.unit_amount * quantity


def _fixed_fields() -> dict[str, Any]:
    return {
        "adaptive_pricing": None,
        "after_expiration": None,
        "allow_promotion_codes": None,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer_account": None,
        "customer_details": None,
        "discounts": [],
        "integration_identifier": None,
        "invoice": None,
        "livemode": False,
        "locale": None,
        "managed_payments": None,
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "always",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "submit_type": None,
        "subscription": None,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "wallet_options": None,
    }


class CheckoutSession(StripeObject):
    """A Stripe Checkout Session with its hosted page at `url`."""

    object = "checkout.session"
    _id_prefix = "cs_test_"

    def __init__(self, mode: str, items: list[CheckoutItem]) -> None:
        super().__init__()
        self.__dict__.update(_fixed_fields())
        self.mode = mode
        self._item_ids = [item.id for item in items]
        self.currency = items[0].currency
        self.amount_subtotal = self.amount_total = sum(i.amount_total for i in items)
        self.status = "open"
        self.payment_status = "unpaid"
        self.expires_at = self.created + _LIFETIME
        self.url = f"{context.base_url()}/c/pay/{self.id}"
        self.payment_method_types = ["card"]
        self.customer: str | None = None
        self.customer_email: str | None = None
        self.customer_creation: str | None = None
        self.client_reference_id: str | None = None
        self.metadata: dict[str, str] = {}
        self.success_url: str | None = None
        self.cancel_url: str | None = None
        self.invoice_creation = (
            None
            if mode == "subscription"
            else {
                "enabled": False,
                "invoice_data": {
                    "account_tax_ids": None,
                    "custom_fields": None,
                    "description": None,
                    "footer": None,
                    "issuer": None,
                    "metadata": {},
                    "rendering_options": None,
                },
            }
        )
        self._payment_intent_data: Params = {}
        self._subscription_data: Params = {}

    def item_list(self) -> list[CheckoutItem]:
        """The session's lines."""
        return [store["item:" + id] for id in self._item_ids]


def retrieve(id: str) -> CheckoutSession:
    """A session by id, 404 as Stripe words it."""
    session = store.get("checkout.session:" + id)
    if session is None:
        raise errors.no_such("checkout.session", id)
    if session.status == "open" and session.expires_at <= time.time():
        _expire(session)
    return session


def _expire(session: CheckoutSession) -> None:
    session.status = "expired"
    events.emit("checkout.session.expired", session)


def _items(data: Params, mode: str) -> list[CheckoutItem]:
    items = []
    for position, entry in enumerate(as_list(required(data, "line_items"), "line_items")):
        entry = as_dict(entry, f"line_items[{position}]")
        if entry.get("price_data"):
            price = prices.build(as_dict(entry["price_data"], "price_data"))
            price.active = False
        else:
            price = prices.retrieve(str(required(entry, "price")), f"line_items[{position}]")
        items.append(CheckoutItem(price, as_int(entry.get("quantity", 1), "quantity")))
    recurring = [i for i in items if i.price.type == "recurring"]
    if mode == "payment" and recurring:
        raise errors.invalid(
            "You specified `payment` mode but passed a recurring price. Either"
            " switch to `subscription` mode or use only one-time prices.",
            "line_items",
        )
    if mode == "subscription" and not recurring:
        raise errors.invalid(
            "You must provide at least one recurring price in `subscription`"
            " mode when using prices.",
            "line_items",
        )
    return items


def _expiry(moment: int, created: int) -> int:
    """Stripe accepts an expiry between 30 minutes and 24 hours after creation."""
    if not created + 1800 <= moment <= created + _LIFETIME:
        raise errors.invalid(
            "The `expires_at` timestamp must be between 30 minutes and 24"
            " hours from Checkout Session creation.",
            "expires_at",
        )
    return moment


def _method_types(data: Params, currency: str) -> list[str]:
    """As asked; else, as Stripe's dynamic methods would offer, cards and the currency's
    bank debit."""
    if not data.get("payment_method_types"):
        return ["card", *(t for t, c in bank_debits.CURRENCY.items() if c == currency)]
    asked = [str(t) for t in as_list(data["payment_method_types"], "payment_method_types")]
    for type in asked:
        if type != "card" and bank_debits.CURRENCY.get(type) != currency:
            raise errors.invalid(
                f"The payment method type `{type}` is not available for {currency} in the sandbox.",
                "payment_method_types",
            )
    return asked


def _apply(session: CheckoutSession, data: Params) -> None:
    if data.get("customer"):
        session.customer = Customer._api_retrieve(str(data["customer"])).id
    elif session.mode == "payment":
        session.customer_creation = data.get("customer_creation") or "if_required"
    for name in (
        "customer_email",
        "client_reference_id",
        "success_url",
        "cancel_url",
        "locale",
        "submit_type",
        "billing_address_collection",
    ):
        setattr(session, name, data.get(name) or None)
    session.metadata = metadata(data.get("metadata"))
    session._payment_intent_data = as_dict(data.get("payment_intent_data"), "")
    session._subscription_data = as_dict(data.get("subscription_data"), "")
    if data.get("expires_at"):
        session.expires_at = _expiry(as_int(data["expires_at"], "expires_at"), session.created)
    session.payment_method_types = _method_types(data, session.currency)
    if data.get("allow_promotion_codes") is not None:
        session.allow_promotion_codes = str(data["allow_promotion_codes"]) == "true"


@routing.api("POST", "/v1/checkout/sessions")
def create(data: Params) -> CheckoutSession:
    """Create a session; its `url` serves the hosted payment page."""
    reject_unknown(data, _CREATE)
    mode = required(data, "mode")
    if mode not in ("payment", "subscription"):
        raise errors.invalid("The sandbox supports `payment` and `subscription` modes.", "mode")
    if data.get("ui_mode", "hosted") == "hosted":
        required(data, "success_url")
    session = CheckoutSession(mode, _items(data, mode))
    _apply(session, data)
    return session


@routing.api("GET", "/v1/checkout/sessions/{id}")
def get(data: Params) -> CheckoutSession:
    """Retrieve a session."""
    return retrieve(data["id"])


@routing.api("GET", "/v1/checkout/sessions/{id}/line_items")
def line_items(data: Params) -> pagination.Page:
    """The session's line items."""
    session = retrieve(data.pop("id"))
    reject_unknown(data, pagination.PAGE_PARAMS)
    return pagination.page(
        f"/v1/checkout/sessions/{session.id}/line_items", session.item_list(), data
    )


@routing.api("POST", "/v1/checkout/sessions/{id}/expire")
def expire(data: Params) -> CheckoutSession:
    """Expire an open session (checkout.session.expired)."""
    session = retrieve(data["id"])
    if session.status != "open":
        raise errors.invalid(
            f"Only open Checkout Sessions can be expired; this one is {session.status}."
        )
    session.expires_at = int(time.time())
    _expire(session)
    return session


@routing.api("GET", "/v1/checkout/sessions")
def list_all(data: Params) -> pagination.Page:
    """Sessions newest first, by payment intent, subscription, customer or status."""
    reject_unknown(
        data,
        (
            *pagination.PAGE_PARAMS,
            "payment_intent",
            "subscription",
            "customer",
            "status",
            "customer_details",
        ),
    )
    items = pagination.stored("checkout.session")
    for name in ("payment_intent", "subscription", "customer", "status"):
        if data.get(name):
            items = [s for s in items if getattr(s, name) == data[name]]
    return pagination.page("/v1/checkout/sessions", items, data)
