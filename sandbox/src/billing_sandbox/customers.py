"""Customers may be created on a test clock, and with a `pm_card_*` default, as in Stripe."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from localstripe.resources import Customer, store

from . import errors, pagination, payment_methods, routing
from .params import Params, as_dict, as_int, reject_unknown, required


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


_CLAUSE = re.compile(
    r"""^\s*(metadata\[['"](?P<key>[^'"]+)['"]\]|(?P<field>email|name|phone))"""
    r"""\s*:\s*['"](?P<value>[^'"]*)['"]\s*$"""
)


def _matcher(query: str) -> Callable[[Customer], bool]:
    """A predicate for Stripe's search syntax (exact clauses joined by AND)."""
    tests: list[Callable[[Customer], bool]] = []
    for clause in re.split(r"\s+AND\s+", query, flags=re.IGNORECASE):
        found = _CLAUSE.match(clause)
        if found is None:
            raise errors.invalid(f"The sandbox cannot search for: {clause}", "query")
        key, field, value = found["key"], found["field"], found["value"]
        if key:
            tests.append(lambda c, k=key, v=value: (c.metadata or {}).get(k) == v)
        else:
            tests.append(lambda c, f=field, v=value: getattr(c, f) == v)
    return lambda customer: all(test(customer) for test in tests)


@routing.api("GET", "/v1/customers/search")
def search(data: Params) -> dict[str, Any]:
    """Customers matching `email:'..'`, `name:'..'`, `phone:'..'`, `metadata['k']:'..'`."""
    reject_unknown(data, ("query", "limit", "page"))
    wanted = _matcher(str(required(data, "query")))
    found = [c for c in pagination.stored("customer") if wanted(c)]
    limit = as_int(data.get("limit", 10), "limit")
    return {
        "object": "search_result",
        "url": "/v1/customers/search",
        "has_more": len(found) > limit,
        "next_page": None,
        "data": [c._export() for c in found[:limit]],
    }
