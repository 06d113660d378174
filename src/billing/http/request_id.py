"""ASGI middleware: each HTTP request's correlation ids, bound and sent back."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from billing.core.correlation import HEADER, SERVER_HEADER, bound, mint, sane
from billing.http.middleware import HttpMiddleware

_HEADER_KEY = HEADER.lower().encode()
_SERVER_HEADER_KEY = SERVER_HEADER.lower().encode()


def _incoming(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _HEADER_KEY:
            return str(value.decode("latin-1"))
    return None


class RequestId(HttpMiddleware):
    """ASGI middleware: mint the request's id, keep the caller's beside it, and answer
    with both. `X-Request-ID` echoes the caller's own (what the API has always promised
    callers), or is the server's when the caller sent none fit to keep;
    `X-Server-Request-ID` is always the server's: the id its logs and audit entries
    carry."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id, caller_request_id = mint(), sane(_incoming(scope))
        echoed = request_id if caller_request_id is None else caller_request_id
        headers = [(_HEADER_KEY, echoed.encode()), (_SERVER_HEADER_KEY, request_id.encode())]

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        with bound(request_id, caller_request_id):
            await self.app(scope, receive, send_with_ids)
