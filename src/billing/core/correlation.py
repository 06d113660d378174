"""A correlation id for everything one request (or one webhook event) causes.

Each HTTP request takes the caller's `X-Request-ID` when it is sane (1 to 64 of
`A-Z a-z 0-9 . _ : -`, so it cannot smuggle anything into logs or headers), else a
fresh one (`billing.http.request_id`). The id lives in a context variable for the
request's duration: audit entries record it and log lines carry it. The worker binds
each Stripe event's id the same way while its handler runs.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

HEADER = "X-Request-ID"

_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")

_current: ContextVar[str | None] = ContextVar("request_id", default=None)


class _Ids:
    """Fresh ids: 16 random hex digits per process, then a counter. Unique across the
    service's processes without a random draw (a system call) per request."""

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_ids = _Ids()


def current() -> str | None:
    """The id of the request (or event) being handled; None outside one."""
    return _current.get()


def accept(incoming: str | None) -> str:
    """The caller's id if it is sane, else a new one."""
    if incoming is not None and _SANE.fullmatch(incoming):
        return incoming
    return _ids.next()


@contextmanager
def bound(request_id: str) -> Iterator[None]:
    """Make `request_id` current (and so put it on log lines) for the block."""
    token = _current.set(request_id)
    try:
        yield
    finally:
        _current.reset(token)


def add_to_log(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the current request's (or event's) id on every log line.
    Cheaper per request than binding it with structlog's own context variables."""
    current_id = _current.get()
    if current_id is not None:
        event.setdefault("request_id", current_id)
    return event
