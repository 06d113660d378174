"""The busiest operations, served past FastAPI's per-request machinery.

A spend or a webhook delivery is a few hundred microseconds of the service's own
work, and FastAPI's share around it (matching the routes one by one, solving the
dependencies, its exception and exit-stack middlewares) was as large again
(bench/asgi_cpu.py). A lane serves the requests of one route: it resolves what the
route's endpoint needs from a plan made at startup from the route's own declaration
(billing/http/route_lanes.py), calls that same endpoint, and answers; an error is
answered by the app's own exception handler. A lane may pass a request on to the full
route instead (by returning None), for what it does not resolve itself, so such
requests are answered exactly as before. The route stays declared in FastAPI: the
OpenAPI document, the lane and the requests passed on keep one definition of it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing.http.middleware import HttpMiddleware, route_path
from billing.http.problems import handle_error

# (request, path parameters) -> the answer, or None to pass the request on
Lane = Callable[[Request, dict[str, Any]], Awaitable[Response | None]]


class FastLanes(HttpMiddleware):
    """ASGI middleware, innermost of the app's own: requests a lane takes go no deeper."""

    def __init__(self, app: ASGIApp, lanes: Sequence[tuple[APIRoute, Lane]]) -> None:
        """`lanes`: each route's, from `route_lanes` (billing/http/route_lanes.py)."""
        super().__init__(app)
        self.lanes = list(lanes)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope)
        for route, lane in self.lanes:
            match = route.path_regex.match(path)
            if match is not None and scope["method"] in (route.methods or ()):
                await self._serve(route, lane, match.groupdict(), scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(
        self,
        route: APIRoute,
        lane: Lane,
        raw_params: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        params = {name: route.param_convertors[name].convert(v) for name, v in raw_params.items()}
        scope["route"], scope["endpoint"] = route, route.endpoint  # as routing sets them (metrics)
        scope["path_params"] = params
        received = _Recording(receive)
        request = Request(scope, received)
        try:
            response = await lane(request, params)
        except Exception as exc:
            response = await handle_error(request, exc)
        if response is None:
            await self.app(scope, received.replay, send)
        else:
            await response(scope, receive, send)


class _Recording:
    """`receive` that keeps what a lane read, to hand the full route the request whole:
    first what was read (the body, or the part of it read), then what the client sends."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.messages: list[Message] = []

    async def __call__(self) -> Message:
        message = await self.receive()
        self.messages.append(message)
        return message

    async def replay(self) -> Message:
        return self.messages.pop(0) if self.messages else await self.receive()
