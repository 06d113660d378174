"""The HTTP side of metrics: each request counted and timed, and the /metrics exposition."""

from __future__ import annotations

import asyncio
import os
import time

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from billing.db.engine import get_database
from billing.http.middleware import HttpMiddleware
from billing.obs.metrics import HTTP_LATENCY, HTTP_REQUESTS, WEBHOOK_OVERDUE, series
from billing.webhooks.processing import overdue_seconds

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

logger = structlog.get_logger(__name__)


def _route_template(scope: Scope) -> str:
    """The matched route's path template (`/api/financial/credits/{user_id}`), never the
    raw path, so ids and scanners' random paths don't explode label cardinality."""
    return str(getattr(scope.get("route"), "path", "unmatched"))


class MetricsMiddleware(HttpMiddleware):
    """Counts and times every HTTP request by method, route template and status."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = _route_template(scope)
            method = scope["method"] if scope["method"] in HTTP_METHODS else "OTHER"
            seconds = time.perf_counter() - start
            series(HTTP_REQUESTS, method, route, str(status)).inc()
            series(HTTP_LATENCY, method, route).observe(seconds)
            logger.debug("http_request", method=method, route=route, status=status, seconds=seconds)


OVERDUE_QUERY_TIMEOUT = 2.0


async def metrics_endpoint(request: Request) -> Response:
    """The Prometheus exposition. With `PROMETHEUS_MULTIPROC_DIR` set (several
    `billing serve` workers, a `billing worker` beside them) it sums every process's
    metrics from that directory, so each scrape sees them all, whichever answers."""
    await _measure_overdue(request)
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def _measure_overdue(request: Request) -> None:
    """Set `billing_webhook_overdue_seconds` from the inbox; a database that does not
    answer leaves it as it was (the readiness probe reports the outage)."""

    try:
        seconds = await asyncio.wait_for(
            overdue_seconds(get_database(request)), OVERDUE_QUERY_TIMEOUT
        )
    except Exception as exc:
        logger.warning("webhook_overdue_unmeasured", error=type(exc).__name__)
        return
    WEBHOOK_OVERDUE.set(seconds)
