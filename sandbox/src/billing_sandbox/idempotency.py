"""Idempotency-Key as Stripe honours it: one key, one set of parameters, one response, 24 h."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import store
from localstripe.server import get_api_key

from .errors import StripeError

TTL_SECONDS = 24 * 3600
_STORE_KEY = "_sandbox_idempotency"


@dataclass(frozen=True)
class Record:
    """The first request made with a key, and its response once it has one."""

    fingerprint: str
    created: float
    status: int | None = None
    body: bytes = b""
    content_type: str = "application/json"


def _records() -> dict[str, Record]:
    records: dict[str, Record] = store.setdefault(_STORE_KEY, {})
    return records


async def _fingerprint(request: web.Request) -> str:
    """The request's identity: path plus parameters, whatever their order on the wire."""
    body = await request.read()
    if request.content_type == "application/x-www-form-urlencoded":
        body = repr(sorted(parse_qsl(body.decode(), keep_blank_values=True))).encode()
    return hashlib.sha256(request.method.encode() + request.path.encode() + body).hexdigest()


def _saved(status: int) -> bool:
    """Stripe saves results of requests that started executing: not validation errors."""
    return status < 400 or status == 402


def _check(record: Record, fingerprint: str, key: str) -> None:
    if record.fingerprint != fingerprint:
        raise StripeError(
            400,
            "Keys for idempotent requests can only be used with the same parameters they were"
            f" first used with. Try using a key other than '{key}' if you meant to execute a"
            " different request.",
            type="idempotency_error",
        )
    if record.status is None:
        raise StripeError(
            409,
            "There is currently another in-progress request using this Idempotent Key.",
            type="idempotency_error",
            code="idempotency_key_in_use",
        )


def _prune(records: dict[str, Record], now: float) -> None:
    for scope in [s for s, r in records.items() if now - r.created > TTL_SECONDS]:
        del records[scope]


@web.middleware
async def idempotency(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Replay the saved response for a repeated key; refuse a key reused with other params."""
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        return await handler(request)
    records, now = _records(), time.time()
    _prune(records, now)
    scope = f"{get_api_key(request) or ''}:{key}"
    fingerprint = await _fingerprint(request)
    if scope in records:
        record = records[scope]
        _check(record, fingerprint, key)
        response = web.Response(
            status=record.status or 200, body=record.body, content_type=record.content_type
        )
        response.headers["Idempotent-Replayed"] = "true"
        response.headers["Idempotency-Key"] = key
        return response
    records[scope] = Record(fingerprint, now)
    try:
        response = await handler(request)
    except UserError as error:
        response = error.to_response()
    finally:
        pending = records.pop(scope, None)
    if pending and isinstance(response, web.Response) and _saved(response.status):
        body = response.body if isinstance(response.body, bytes) else b""
        records[scope] = Record(fingerprint, now, response.status, body, response.content_type)
        store.dump_to_disk()
    response.headers["Idempotency-Key"] = key
    return response
