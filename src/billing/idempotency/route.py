"""`Idempotency-Key` for every mutating route.

The first request with a key claims it (a row `in_progress`, committed at
once), runs, and stores its status and body for 24 hours. A repeat with the
same method, path and body gets the stored response verbatim with
`Idempotent-Replayed: true`; a repeat with anything else is 409
`idempotency_conflict`; a repeat while the first still runs is 409
`idempotency_in_progress`. Keys are scoped by principal. Server errors (5xx)
and requests refused before they started (401, 403, 422) are not stored: the
key is released so the client can retry.

A request that dies between claim and completion leaves its key in progress;
after `STALE_CLAIM` another request may take the claim over. A request whose
database failed as it claimed or settled its key settles it in the background
as soon as the database answers, so a retry need not wait that long. Handlers with
database effects also carry the key into those effects (the credit ledger's
own unique key), so a re-run after a takeover never applies twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from billing.auth.dependencies import authenticate
from billing.core.errors import ValidationProblem
from billing.db.engine import get_database
from billing.idempotency.models import MAX_KEY_LENGTH
from billing.idempotency.store import IdempotencyStore, StoredResponse

HEADER = "idempotency-key"

BODY_FIELD = "idempotency_key"

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _parse_json_object(body: bytes) -> dict[str, Any] | None:
    if not body.lstrip().startswith(b"{"):
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def request_key(request: Request, payload: dict[str, Any] | None) -> str | None:
    """The request's key: the header, or a credit route's body field; both must agree."""
    header = request.headers.get(HEADER)
    body_value = payload.get(BODY_FIELD) if payload else None
    body_key = body_value if isinstance(body_value, str) else None
    if header is not None and body_key is not None and header != body_key:
        raise ValidationProblem("The Idempotency-Key header and idempotency_key differ.")
    key = header if header is not None else body_key
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()):
        raise ValidationProblem(
            f"An idempotency key has 1 to {MAX_KEY_LENGTH} printable characters."
        )
    return key


def fingerprint(request: Request, body: bytes, payload: dict[str, Any] | None) -> str:
    canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS) if payload else body
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), request.url.query.encode()):
        digest.update(part + b"\0")
    digest.update(canonical)
    return digest.hexdigest()


async def run_idempotently(request: Request, handler: Handler) -> Response:
    if request.method not in MUTATING_METHODS:
        return await handler(request)
    principal = await authenticate(request)
    body = await request.body()
    payload = _parse_json_object(body)
    if body.strip() and payload is None:
        # Fail closed: a body this layer cannot read might hide an idempotency_key.
        raise ValidationProblem("The body must be a JSON object, encoded as UTF-8.")
    key = request_key(request, payload)
    if key is None:
        return await handler(request)
    store = IdempotencyStore(get_database(request))
    claim = await store.claim(principal.scope, key, fingerprint(request, body, payload))
    if isinstance(claim, StoredResponse):
        return claim.replay()
    request.state.idempotency_key = key
    try:
        response = await handler(request)
    except Exception as exc:  # stored like any response the route gives
        response = await _answer_error(request, exc)
    try:
        await store.settle(claim, response)
    except Exception:
        store.settle_later(claim, response)
        raise
    return response


async def _answer_error(request: Request, exc: Exception) -> Response:
    """The app's own answer to `exc`, from the exception handlers it installed."""
    for exc_class in type(exc).__mro__:
        handler = request.app.exception_handlers.get(exc_class)
        if handler is not None:
            response: Response = await handler(request, exc)
            return response
    raise exc


class IdempotentRoute(APIRoute):
    """An APIRoute whose mutating requests go through `run_idempotently`.

    Its mutating routes need credentials (keys are scoped by caller), so routes that
    authenticate otherwise, like Stripe's signed webhook, use a plain APIRoute.
    """

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def idempotent_handler(request: Request) -> Response:
            return await run_idempotently(request, handler)

        return idempotent_handler


def idempotency_key(request: Request) -> str | None:
    """The key the current request runs under, for handlers that carry it into their effects."""
    key: str | None = getattr(request.state, "idempotency_key", None)
    return key
