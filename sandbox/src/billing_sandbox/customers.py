"""Customers may be created on a test clock, and with a `pm_card_*` default, as in Stripe."""

from __future__ import annotations

from localstripe.resources import Customer, store

from . import errors, payment_methods, routing
from .params import Params, as_dict


def _resolve_methods(data: Params) -> None:
    """Turn `pm_card_*` into one real PaymentMethod used for both parameters."""
    given = data.get("payment_method")
    settings = as_dict(data.get("invoice_settings"), "invoice_settings")
    if given:
        data["payment_method"] = payment_methods.retrieve(str(given)).id
    default = settings.get("default_payment_method")
    if default:
        settings["default_payment_method"] = (
            data["payment_method"] if default == given else payment_methods.retrieve(default).id
        )
        data["invoice_settings"] = settings


@routing.api("POST", "/v1/customers")
def create(data: Params) -> Customer:
    """localstripe's customer create, plus `test_clock`."""
    clock = data.pop("test_clock", None)
    if clock and store.get("test_helpers.test_clock:" + str(clock)) is None:
        raise errors.no_such("test clock", str(clock), "test_clock")
    data.pop("invoice_prefix", None)
    _resolve_methods(data)
    customer = Customer._api_create(**data)
    customer.test_clock = clock or None
    return customer
