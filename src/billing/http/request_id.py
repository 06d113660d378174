"""ASGI middleware: each HTTP request's correlation id, bound and echoed."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from billing.core.correlation import HEADER, accept, bound
from billing.http.middleware import HttpMiddleware

_HEADER_KEY = HEADER.lower().encode()


def _incoming(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _HEADER_KEY:
            return str(value.decode("latin-1"))
    return None


class RequestId(HttpMiddleware):
    """ASGI middleware: bind each HTTP request's id and echo it in the response."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = accept(_incoming(scope))
        header = (_HEADER_KEY, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        with bound(request_id):
            await self.app(scope, receive, send_with_id)
