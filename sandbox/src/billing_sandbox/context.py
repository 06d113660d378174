"""What the code handling a request needs to know about it (request id, base URL, key)."""

from __future__ import annotations

import secrets
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    """The current API request; events record it as Stripe does in `event.request`."""

    id: str
    idempotency_key: str | None
    base_url: str


_current: ContextVar[RequestContext | None] = ContextVar("sandbox_request", default=None)


def new_request_id() -> str:
    """A Stripe-looking request id."""
    return "req_" + secrets.token_hex(7)


def enter(context: RequestContext) -> None:
    """Mark the start of a request's handling."""
    _current.set(context)


def current() -> RequestContext | None:
    """The request being handled, or None in background work (webhook retries, clocks)."""
    return _current.get()


def base_url() -> str:
    """Where this sandbox is reached, for `url` fields of hosted pages."""
    context = _current.get()
    return context.base_url if context else "http://localhost:8420"
