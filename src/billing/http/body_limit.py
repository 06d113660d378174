"""Request body size limits, enforced before any route reads the body."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from billing.core.errors import PayloadTooLarge
from billing.http.middleware import HttpMiddleware, route_path
from billing.http.problems import problem_response

DEFAULT_BODY_LIMIT = 64 * 1024
WEBHOOK_BODY_LIMIT = 1024 * 1024
BATCH_BODY_LIMIT = 1024 * 1024
BODY_LIMITS_BY_PATH = {
    "/api/stripe/webhook": WEBHOOK_BODY_LIMIT,
    "/api/financial/usage": BATCH_BODY_LIMIT,  # up to 1,000 usage events
}


class BodySizeLimit(HttpMiddleware):
    """413 `payload_too_large` for a declared or streamed body over the path's limit."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = BODY_LIMITS_BY_PATH.get(route_path(scope), DEFAULT_BODY_LIMIT)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            error = PayloadTooLarge(f"The body may hold at most {limit} bytes.")
            await problem_response(error, instance=scope["path"])(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(f"The body may hold at most {limit} bytes.")
            return message

        await self.app(scope, limited_receive, send)
