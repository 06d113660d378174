"""The HTTP side of metrics: each request counted and timed, and the /metrics exposition,
for authorized scrapers, with the one gauge that queries the database cached."""

from __future__ import annotations

import asyncio
import hmac
import os
import time
from collections.abc import Callable

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

from billing.core.config import Settings
from billing.core.errors import Forbidden, Unauthenticated
from billing.core.foreground import FOREGROUND
from billing.db.engine import Database
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
    """Counts and times every HTTP request by method, route template and status, and
    keeps `FOREGROUND`'s count of requests in flight."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        status = 500
        FOREGROUND.enter()  # the in-process worker waits for a pause in requests

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            FOREGROUND.leave()
            route = _route_template(scope)
            method = scope["method"] if scope["method"] in HTTP_METHODS else "OTHER"
            seconds = time.perf_counter() - start
            series(HTTP_REQUESTS, method, route, str(status)).inc()
            series(HTTP_LATENCY, method, route).observe(seconds)
            logger.debug("http_request", method=method, route=route, status=status, seconds=seconds)


OVERDUE_QUERY_TIMEOUT = 2.0
OVERDUE_MAX_AGE = 5.0  # seconds one measurement of the inbox serves every scrape


async def metrics_endpoint(request: Request) -> Response:
    """The Prometheus exposition, for authorized scrapers only (`authorize_scrape`)."""
    settings: Settings = request.app.state.settings
    authorize_scrape(settings, request.headers.get("authorization", ""))
    await request.app.state.overdue.refresh()
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


def exposition() -> bytes:
    """This process's metrics; with `PROMETHEUS_MULTIPROC_DIR` set (several `billing serve`
    workers, a `billing worker` beside them) every process's from that directory summed,
    so each scrape sees them all, whichever answers."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def authorize_scrape(settings: Settings, authorization: str) -> None:
    """With BILLING_METRICS_TOKEN set, only `Authorization: Bearer <that token>` may
    scrape (compared in constant time); unset, /metrics is open in development only.
    Checked before anything is measured: a refused scrape costs no query."""
    token = settings.BILLING_METRICS_TOKEN
    if token is None:
        if settings.BILLING_ENV == "development":
            return
        raise Forbidden("Set BILLING_METRICS_TOKEN to scrape /metrics in production.")
    scheme, _, presented = authorization.partition(" ")
    expected = token.get_secret_value().strip().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected):
        raise Unauthenticated(
            "Scrape /metrics with 'Authorization: Bearer <BILLING_METRICS_TOKEN>'."
        )


class OverdueGauge:
    """`billing_webhook_overdue_seconds`, measured from the inbox at most once per
    `max_age` seconds; scrapes meanwhile read the last value, and concurrent ones share
    the query in flight. /metrics is not rate-limited: scraping it must not be a way to
    load the database. One per app (so per process); `clock` is replaceable in tests."""

    def __init__(self, database: Database, max_age: float = OVERDUE_MAX_AGE) -> None:
        self.database = database
        self.max_age = max_age
        self.clock: Callable[[], float] = time.monotonic
        self._started: float | None = None
        self._measuring: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        if self._measuring is None:
            if self._started is not None and self.clock() - self._started < self.max_age:
                return
            self._started = self.clock()  # a failed query, too, waits for the next interval
            self._measuring = asyncio.create_task(self._measure())
        # Shielded: a scraper that disconnects does not cancel the others' query.
        await asyncio.shield(self._measuring)

    async def _measure(self) -> None:
        """A database that does not answer leaves the gauge as it was (the readiness
        probe reports the outage)."""
        try:
            seconds = await asyncio.wait_for(overdue_seconds(self.database), OVERDUE_QUERY_TIMEOUT)
        except Exception as exc:
            logger.warning("webhook_overdue_unmeasured", error=type(exc).__name__)
        else:
            WEBHOOK_OVERDUE.set(seconds)
        finally:
            self._measuring = None
