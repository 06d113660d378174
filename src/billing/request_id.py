"""A request id for everything one request (or one webhook event) causes.

Each HTTP request takes the caller's `X-Request-ID` when it is sane (1 to 64 of
`A-Z a-z 0-9 . _ : -`, so it cannot smuggle anything into logs or headers), else a
fresh one, and echoes it in the response. The id lives in a context variable for
the request's duration: audit entries record it and log lines carry it. The worker
binds each Stripe event's id the same way while its handler runs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def current() -> str | None:
    """The id of the request (or event) being handled; None outside one."""
    return _current.get()


def accept(incoming: str | None) -> str:
    """The caller's id if it is sane, else a new one."""
    if incoming is not None and _SANE.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


@contextmanager
def bound(request_id: str) -> Iterator[None]:
    """Make `request_id` current (and put it on log lines) for the block."""
    token = _current.set(request_id)
    try:
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            yield
    finally:
        _current.reset(token)


class RequestId:
    """ASGI middleware: bind each HTTP request's id and echo it in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept(Headers(scope=scope).get(HEADER))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        with bound(request_id):
            await self.app(scope, receive, send_with_id)
