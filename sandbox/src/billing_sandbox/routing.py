"""A router consulted before localstripe's, so the sandbox can add and replace endpoints."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from localstripe.resources import StripeObject, store
from localstripe.server import get_api_key, get_post_data, unflatten_data

from . import context
from .errors import StripeError
from .params import Params

ApiHandler = Callable[[Params], Any]
PageHandler = Callable[[web.Request, dict[str, str]], Awaitable[web.StreamResponse]]
Auth = Literal["secret", "publishable", "none"]


@dataclass(frozen=True)
class Route:
    """One endpoint: API routes return Stripe objects, page routes return HTML."""

    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Any]
    auth: Auth
    page: bool


_routes: list[Route] = []


def _compile(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")


def api(method: str, path: str, auth: Auth = "secret") -> Callable[[ApiHandler], ApiHandler]:
    """Register a Stripe API endpoint; the handler gets body/query plus path parameters."""

    def register(handler: ApiHandler) -> ApiHandler:
        _routes.append(Route(method, _compile(path), handler, auth, page=False))
        return handler

    return register


def page(method: str, path: str) -> Callable[[PageHandler], PageHandler]:
    """Register a browser-facing page (hosted Checkout, portal): no API key."""

    def register(handler: PageHandler) -> PageHandler:
        _routes.append(Route(method, _compile(path), handler, "none", page=True))
        return handler

    return register


def _match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in _routes:
        found = route.pattern.match(path)
        if found and route.method == method:
            return route, found.groupdict()
    return None


def json_response(body: Any, status: int = 200) -> web.Response:
    """JSON as Stripe sends it."""
    return web.json_response(body, status=status, dumps=lambda x: json.dumps(x, indent=2))


async def request_data(request: web.Request) -> Params:
    """Body (POST) or query (GET/DELETE) parameters, unflattened from `a[b][0]=c` form."""
    if request.method == "POST":
        data = dict(await get_post_data(request, remove_auth=False) or {})
        data.update(unflatten_data(request.query) or {})
        return data
    return dict(unflatten_data(request.query) or {})


def _check_auth(request: web.Request, route: Route, data: Params) -> None:
    if route.auth == "none" or get_api_key(request):
        return
    header = request.headers.get("Authorization", "")
    key = str(data.get("key") or header.removeprefix("Bearer "))
    if route.auth == "publishable" and key.startswith("pk_"):
        return
    raise StripeError(401, "You did not provide an API key.")


def export(result: Any, expand: Any) -> Any:
    """Turn a handler's result into JSON-ready data, expanding as asked."""
    if isinstance(result, StripeObject):
        return result._export(expand=expand)
    return result


async def _run_api(request: web.Request, route: Route, path: dict[str, str]) -> web.Response:
    data = await request_data(request)
    _check_auth(request, route, data)
    for name in ("key", "payment_user_agent", "referrer", "_method"):
        data.pop(name, None)
    expand = data.pop("expand", None)
    result = route.handler({**data, **path})
    if inspect.isawaitable(result):
        result = await result
    return json_response(export(result, expand))


@web.middleware
async def dispatch(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Serve the sandbox's own routes; fall through to localstripe for the rest."""
    found = _match(request.method, request.path)
    if found is None:
        return await handler(request)
    route, path = found
    try:
        if route.page:
            return await route.handler(request, path)
        return await _run_api(request, route, path)
    finally:
        if request.method in ("POST", "DELETE"):
            store.dump_to_disk()


@web.middleware
async def request_context(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Give every request an id (the `Request-Id` header) and remember the base URL."""
    request_id = context.new_request_id()
    base = f"{request.scheme}://{request.host}"
    context.enter(context.RequestContext(request_id, request.headers.get("Idempotency-Key"), base))
    response = await handler(request)
    response.headers["Request-Id"] = request_id
    return response
