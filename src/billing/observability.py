"""Metrics and logging.

Metric names start with `billing_`. Logs are structured (JSON in production,
console in development) and never carry secrets or card data: callers log ids
and outcomes, not payloads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing.config import Settings

HTTP_REQUESTS = Counter(
    "billing_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "billing_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CREDIT_OPERATIONS = Counter(
    "billing_credit_operations_total", "Credit transactions posted", ["kind"]
)
WEBHOOK_DELIVERIES = Counter(
    "billing_webhook_deliveries_total", "Verified webhook deliveries", ["type", "outcome"]
)
WEBHOOK_VERIFICATION_FAILURES = Counter(
    "billing_webhook_verification_failures_total", "Webhook deliveries refused as unsigned"
)
WEBHOOK_PROCESSED = Counter(
    "billing_webhook_processed_total", "Inbox events handled", ["type", "outcome"]
)
WEBHOOK_DEAD_EVENTS = Counter(
    "billing_webhook_dead_events_total", "Inbox events that failed every attempt"
)
INSUFFICIENT_CREDITS = Counter(
    "billing_insufficient_credits_total", "Spends refused for insufficient credits"
)
WEBHOOK_LAG = Histogram(
    "billing_webhook_processing_lag_seconds",
    "From an event's receipt to its processing",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60, 300, 3600),
)
# Handlers count each payment once, when recorded: outcome "succeeded" or "failed".
PAYMENTS = Counter("billing_payments_total", "Payments recorded from Stripe", ["outcome"])
ALERTS = Counter("billing_alerts_total", "Alerts raised", ["kind"])


def configure_logging(settings: Settings) -> None:
    level = logging.DEBUG if settings.STRIPE_DEBUG else logging.INFO
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.BILLING_ENV == "production"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )


def _route_template(scope: Scope) -> str:
    """The matched route's path template, so ids don't explode label cardinality."""
    return str(getattr(scope.get("route"), "path", "unmatched"))


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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
            method = scope["method"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - start)


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


ALERT_TIMEOUT_SECONDS = 5
logger = structlog.get_logger(__name__)


@dataclass
class _AlertTarget:
    """Where alerts go (set once per process from the settings), and the POSTs in
    flight, referenced until done so none is garbage-collected mid-way."""

    url: str | None = None
    sending: set[asyncio.Task[None]] = field(default_factory=set)


_target = _AlertTarget()


def configure_alerts(settings: Settings) -> None:
    _target.url = settings.BILLING_ALERT_WEBHOOK_URL


def alert(kind: str, **details: str | int | None) -> None:
    """Tell a person something needs them: an error log line, and a JSON POST to
    `BILLING_ALERT_WEBHOOK_URL` sent in the background. Never raises, never blocks."""
    ALERTS.labels(kind).inc()
    logger.error("alert", alert=kind, details=details)
    url = _target.url
    if not url:
        return
    body = {"kind": kind, "details": details, "at": datetime.now(UTC).isoformat()}
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # called from synchronous code: send from a thread instead
        threading.Thread(target=asyncio.run, args=(_send(url, body),), daemon=True).start()
        return
    task = loop.create_task(_send(url, body))
    _target.sending.add(task)
    task.add_done_callback(_target.sending.discard)


async def _send(url: str, body: dict[str, Any]) -> None:
    try:
        async with httpx.AsyncClient(timeout=ALERT_TIMEOUT_SECONDS) as http:
            response = await http.post(url, json=body)
            response.raise_for_status()
    except Exception as exc:  # an alert never takes anything down; the URL (a token?) isn't logged
        logger.warning("alert_not_delivered", alert=body["kind"], error=type(exc).__name__)


async def drain_alerts() -> None:
    """Let alerts still in flight finish (each is bounded by its timeout), so a
    process that stops right after raising one still delivers it."""
    pending = {task for task in _target.sending if not task.done()}
    if pending:
        await asyncio.wait(pending, timeout=ALERT_TIMEOUT_SECONDS + 1)
