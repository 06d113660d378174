"""Card PaymentMethods that behave as Stripe's test cards, created by API or by `pm_card_*`."""

from __future__ import annotations

import time
from typing import Any

from localstripe.resources import Customer, PaymentMethod, fingerprint, store

from . import bank_debits, cards, errors, events, pagination, routing
from .errors import StripeError
from .params import Params, as_dict, as_int, metadata, reject_unknown

_PLACEHOLDER = "4242424242424242"  # localstripe insists on 16 digits; the real one is set after


def card_error(decline: cards.Decline, **fields: Any) -> StripeError:
    """402 card_error as Stripe returns it."""
    return StripeError(
        402,
        decline.message,
        type="card_error",
        code=decline.code,
        decline_code=decline.decline_code,
        doc_url=f"https://stripe.com/docs/error-codes/{decline.code.replace('_', '-')}",
        **fields,
    )


def _check_card(card: Params) -> tuple[str, int, int]:
    number = str(card.get("number", "")).replace(" ", "")
    if not number.isdigit() or not 13 <= len(number) <= 19 or not cards.luhn_ok(number):
        raise card_error(cards.INCORRECT_NUMBER, param="number")
    month = as_int(card.get("exp_month"), "exp_month")
    year = as_int(card.get("exp_year"), "exp_year")
    year += 2000 if year < 100 else 0
    if not 1 <= month <= 12:
        raise card_error(
            cards.Decline("invalid_expiry_month", None, "Your card's expiration month is invalid."),
            param="exp_month",
        )
    if (year, month) < time.gmtime()[:2]:
        raise card_error(
            cards.Decline("invalid_expiry_year", None, "Your card's expiration year is invalid."),
            param="exp_year",
        )
    return number, month, year


def _card_view(number: str, month: int, year: int) -> dict[str, Any]:
    brand = cards.brand(number)
    return {
        "brand": brand,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass",
        },
        "country": "US",
        "display_brand": brand,
        "exp_month": month,
        "exp_year": year,
        "fingerprint": fingerprint(number),
        "funding": "credit",
        "generated_from": None,
        "last4": number[-4:],
        "networks": {"available": [brand], "preferred": None},
        "regulated_status": "unregulated",
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }


def create_card(
    card: Params, billing_details: Params | None = None, meta: dict[str, str] | None = None
) -> PaymentMethod:
    """A card PaymentMethod for the number typed in."""
    number, month, year = _check_card(card)
    pm = PaymentMethod(
        type="card",
        billing_details=billing_details,
        metadata=meta,
        card={"number": _PLACEHOLDER, "exp_month": month, "exp_year": year, "cvc": "123"},
    )
    pm._card_number = number
    pm.card = _card_view(number, month, year)
    pm.billing_details = _billing(billing_details)
    return pm


def _billing(details: Params | None) -> dict[str, Any]:
    details = dict(details or {})
    address = {k: None for k in ("city", "country", "line1", "line2", "postal_code", "state")}
    address.update(as_dict(details.get("address"), "address"))
    return {
        "address": address,
        "email": details.get("email"),
        "name": details.get("name"),
        "phone": details.get("phone"),
        "tax_id": None,
    }


def _test_method(id: str) -> PaymentMethod | None:
    if id not in cards.TEST_PAYMENT_METHODS:
        return None
    return create_card(_tokenized("tok_" + id.removeprefix("pm_card_")))


def _requires_authentication(self: Any) -> bool:
    auth = cards.card_for(getattr(self, "_card_number", "")).auth
    return auth == "always" or (auth == "once" and not getattr(self, "_authenticated", False))


def _charging_is_declined(self: Any) -> bool:
    if getattr(self, "type", "card") != "card":
        return False
    return cards.card_for(self._card_number).decline is not None


def dispute_for(pm: Any) -> cards.Disputed:
    """The dispute a successful charge on pm opens (`pm_card_createDispute`, ...)."""
    if pm.type in bank_debits.TYPES:
        return bank_debits.answer_for(pm).dispute
    return cards.card_for(getattr(pm, "_card_number", "")).dispute


def decline_for(pm: Any) -> cards.Decline:
    """Why charging pm fails."""
    return cards.card_for(getattr(pm, "_card_number", "")).decline or cards.GENERIC


def install() -> None:
    """Make localstripe's PaymentMethods follow Stripe's test-card table."""
    PaymentMethod._requires_authentication = _requires_authentication
    PaymentMethod._charging_is_declined = _charging_is_declined
    PaymentMethod._attaching_is_declined = lambda self: False
    PaymentMethod._try_get_canonical_test_article = classmethod(lambda cls, id: _test_method(id))


def retrieve(id: str) -> PaymentMethod:
    """A PaymentMethod by id (or `pm_card_*`), 404 as Stripe words it."""
    if id.startswith(("card_", "src_")):
        return PaymentMethod._api_retrieve(id)
    pm = _test_method(id) or store.get("payment_method:" + id)
    if pm is None:
        raise errors.no_such("PaymentMethod", id, "payment_method")
    return pm


@routing.api("POST", "/v1/payment_methods", auth="publishable")
def create(data: Params) -> PaymentMethod:
    """Create a PaymentMethod (Stripe.js posts here with the publishable key)."""
    reject_unknown(
        data,
        (
            "type",
            "card",
            "sepa_debit",
            "us_bank_account",
            "billing_details",
            "metadata",
            "customer",
            "payment_method",
            "allow_redisplay",
            "guid",
            "muid",
            "sid",
            "time_on_page",
        ),
    )
    return build(data)


def build(data: Params) -> PaymentMethod:
    """A PaymentMethod of any type the sandbox has, from Stripe's create parameters."""
    type = str(data.get("type", "card"))
    billing = as_dict(data.get("billing_details"), "billing_details")
    meta = metadata(data.get("metadata"))
    if type in bank_debits.TYPES:
        return bank_debits.create_method(type, data, _billing(billing), meta)
    if type != "card":
        raise errors.invalid(
            f"The sandbox has no {type} PaymentMethods: use card, sepa_debit or us_bank_account.",
            "type",
        )
    card = as_dict(data.get("card"), "card")
    if card.get("token"):
        card = _tokenized(str(card["token"]))
    return create_card(card, billing, meta)


def _tokenized(token: str) -> Params:
    """The card behind one of Stripe's test tokens (`tok_visa`, `tok_chargeDeclined`)."""
    number = cards.TEST_PAYMENT_METHODS.get("pm_card_" + token.removeprefix("tok_"))
    if not token.startswith("tok_") or number is None:
        raise errors.no_such("token", token, "card[token]")
    return {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}


@routing.api("POST", "/v1/payment_methods/{id}/attach")
def attach(data: Params) -> PaymentMethod:
    """Attach to a customer: always accepted, declines happen on charge."""
    pm = retrieve(data["id"])
    customer = Customer._api_retrieve(str(data.get("customer")))
    pm.customer = customer.id
    events.emit("payment_method.attached", pm)
    return pm


@routing.api("GET", "/v1/payment_methods")
def list_all(data: Params) -> pagination.Page:
    """A customer's payment methods, newest first, of one type when `type` is given."""
    reject_unknown(data, (*pagination.PAGE_PARAMS, "customer", "type"))
    items = [
        pm
        for pm in pagination.stored("payment_method")
        if pm.customer == data.get("customer") and pm.type == data.get("type", pm.type)
    ]
    return pagination.page("/v1/payment_methods", items, data)
