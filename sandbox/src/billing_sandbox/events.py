"""Events as Stripe sends them: today's envelope, previous_attributes, newest first."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from localstripe import resources
from localstripe.resources import Event, StripeObject, store

from . import context, pagination, routing
from .params import Params, as_list, reject_unknown

# The objects carry both the old and the new API shapes; events say they are current.
API_VERSION = "2026-10-28.endive"

_listeners: list[Callable[[Event], None]] = []
_held: ContextVar[list[Event] | None] = ContextVar("held_events", default=None)


def _init(
    self: Event, type: str, data: Any, previous_attributes: dict[str, Any] | None = None
) -> None:
    StripeObject.__init__(self)
    self.type = type
    self.data = {"object": data._export()}
    if previous_attributes is not None:
        self.data["previous_attributes"] = previous_attributes
    self.api_version = API_VERSION
    self.pending_webhooks = 0
    request = context.current()
    self.request = {
        "id": request.id if request else None,
        "idempotency_key": request.idempotency_key if request else None,
    }


def publish(event: Event) -> None:
    """Hand an event to whoever delivers events (webhook endpoints)."""
    held = _held.get()
    if held is not None:
        held.append(event)
        return
    for listener in _listeners:
        listener(event)


def emit(type: str, obj: Any, previous_attributes: dict[str, Any] | None = None) -> Event:
    """Record an event about obj and deliver it."""
    event = Event(type, obj, previous_attributes)
    publish(event)
    return event


@contextmanager
def atomic() -> Iterator[list[Event]]:
    """Deliver the events raised in the block only if it completes; else forget them."""
    batch: list[Event] = []
    token = _held.set(batch)
    try:
        yield batch
    except BaseException:
        for event in batch:
            store.pop("event:" + event.id, None)
        raise
    finally:
        _held.reset(token)
    for event in batch:
        publish(event)


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """previous_attributes: the old values of the top-level fields that changed."""
    return {key: value for key, value in before.items() if after.get(key) != value}


def install(listener: Callable[[Event], None]) -> None:
    """Route every localstripe and sandbox event through `listener`."""
    Event.__init__ = _init
    _listeners.append(listener)
    resources.schedule_webhook = publish


@routing.api("GET", "/v1/events")
def list_events(data: Params) -> pagination.Page:
    """Events newest first, filtered by type(s) and created."""
    reject_unknown(data, (*pagination.PAGE_PARAMS, "type", "types", "delivery_success"))
    items = pagination.stored("event")
    types = set(as_list(data.get("types"), "types"))
    if data.get("type"):
        pattern = str(data["type"])
        prefix = pattern.removesuffix("*")
        items = [
            e
            for e in items
            if e.type == pattern or (pattern.endswith("*") and e.type.startswith(prefix))
        ]
    if types:
        items = [e for e in items if e.type in types]
    return pagination.page("/v1/events", items, data)
