"""Metrics and logging.

Metric names start with `billing_`. Logs are structured (JSON in production,
console in development) and never carry secrets or card data: callers log ids
and outcomes, not payloads.
"""

from __future__ import annotations

import logging
import time
from typing import Any

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
