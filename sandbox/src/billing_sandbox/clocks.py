"""Test clocks: customers live on simulated time; advancing it runs their billing."""

from __future__ import annotations

from typing import Any

from localstripe.resources import StripeObject, store

from . import bank_debits, errors, events, pagination, routing, subscriptions
from .params import Params, as_int, reject_unknown, required

_LIFETIME = 30 * 86400  # Stripe deletes test clocks thirty days after creation


class TestClock(StripeObject):
    """A Stripe test clock."""

    object = "test_helpers.test_clock"
    _id_prefix = "clock_"

    def __init__(self, frozen_time: int, name: str | None) -> None:
        super().__init__()
        self.frozen_time = frozen_time
        self.name = name
        self.deletes_after = self.created + _LIFETIME
        self.status = "ready"
        self.status_details: dict[str, Any] = {}


def _clock(id: str) -> TestClock:
    clock = store.get("test_helpers.test_clock:" + id)
    if clock is None:
        raise errors.no_such("test_helpers.test_clock", id)
    return clock


def _subscriptions(clock: TestClock) -> list[subscriptions.Subscription]:
    found = [s for s in pagination.stored("subscription") if s.test_clock == clock.id]
    return sorted(found, key=lambda s: s.created)


@routing.api("POST", "/v1/test_helpers/test_clocks")
def create(data: Params) -> TestClock:
    """Create a clock frozen at frozen_time."""
    reject_unknown(data, ("frozen_time", "name"))
    clock = TestClock(as_int(required(data, "frozen_time"), "frozen_time"), data.get("name"))
    events.emit("test_helpers.test_clock.created", clock)
    return clock


@routing.api("GET", "/v1/test_helpers/test_clocks/{id}")
def retrieve(data: Params) -> TestClock:
    """Retrieve a clock."""
    return _clock(data["id"])


@routing.api("GET", "/v1/test_helpers/test_clocks")
def list_all(data: Params) -> pagination.Page:
    """Clocks, newest first."""
    reject_unknown(data, pagination.PAGE_PARAMS)
    items = pagination.stored("test_helpers.test_clock")
    return pagination.page("/v1/test_helpers/test_clocks", items, data)


@routing.api("DELETE", "/v1/test_helpers/test_clocks/{id}")
def delete(data: Params) -> dict[str, Any]:
    """Delete a clock with its customers and their subscriptions, as Stripe does."""
    clock = _clock(data["id"])
    doomed = [
        key
        for key, value in store.items()
        if key.split(":")[0] in ("customer", "subscription")
        and getattr(value, "test_clock", None) == clock.id
    ]
    for key in [*doomed, "test_helpers.test_clock:" + clock.id]:
        del store[key]
    events.emit("test_helpers.test_clock.deleted", clock)
    return {"id": clock.id, "object": "test_helpers.test_clock", "deleted": True}


@routing.api("POST", "/v1/test_helpers/test_clocks/{id}/advance")
def advance(data: Params) -> dict[str, Any]:
    """Move the clock forward: pending bank debits are answered, then subscriptions renew,
    charge, end trials and cancel on the way."""
    clock = _clock(data.pop("id"))
    reject_unknown(data, ("frozen_time",))
    target = as_int(required(data, "frozen_time"), "frozen_time")
    if target <= clock.frozen_time:
        raise errors.invalid(
            "The frozen_time must be after the test clock's current frozen_time.", "frozen_time"
        )
    clock.status = "advancing"
    reply = clock._export()
    events.emit("test_helpers.test_clock.advancing", clock)
    bank_debits.settle_for_clock(clock.id)
    for sub in _subscriptions(clock):
        subscriptions.advance(sub, target)
    clock.frozen_time = target
    clock.status = "ready"
    events.emit("test_helpers.test_clock.ready", clock)
    return reply
