"""A correlation id for everything one request (or one webhook event) causes.

Each HTTP request gets a fresh id minted by the server (`billing.http.request_id`):
the one audit entries record as `request_id` and log lines carry, so a caller can
neither forge another request's id nor collide with it. The caller's own
`X-Request-ID`, when it is sane (1 to 64 of `A-Z a-z 0-9 . _ : -`, so it cannot
smuggle anything into logs or headers), is kept beside it as the caller's id
(`caller_request_id`), for the caller to find its requests by. Both live in a context
variable for the request's duration. The worker binds each Stripe event's id the same
way while its handler runs, with no caller's id.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from billing.core.ids import FreshIds

HEADER = "X-Request-ID"  # the caller's id; echoed (`billing.http.request_id`)
SERVER_HEADER = "X-Server-Request-ID"  # the server's id, in every response

_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")

# (the server's id, the caller's id or None) of the request or event being handled.
_current: ContextVar[tuple[str, str | None] | None] = ContextVar("request_ids", default=None)


_ids = FreshIds(8)


def current() -> str | None:
    """The server's id of the request (or event) being handled; None outside one."""
    ids = _current.get()
    return None if ids is None else ids[0]


def caller() -> str | None:
    """The caller's own id of the request being handled, if it sent a sane one."""
    ids = _current.get()
    return None if ids is None else ids[1]


def mint() -> str:
    """A new id of the server's."""
    return _ids.next()


def sane(incoming: str | None) -> str | None:
    """The caller's id if it is sane, else None."""
    if incoming is not None and _SANE.fullmatch(incoming):
        return incoming
    return None


@contextmanager
def bound(request_id: str, caller_request_id: str | None = None) -> Iterator[None]:
    """Make the ids current (and so put them on log lines and audit entries) for the
    block. A block inside another (a Stripe event's) has no caller unless given one."""
    token = _current.set((request_id, caller_request_id))
    try:
        yield
    finally:
        _current.reset(token)


def add_to_log(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the current request's (or event's) ids on every log line.
    Cheaper per request than binding them with structlog's own context variables."""
    ids = _current.get()
    if ids is not None:
        event.setdefault("request_id", ids[0])
        if ids[1] is not None:
            event.setdefault("caller_request_id", ids[1])
    return event
