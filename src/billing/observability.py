"""Metrics, logging and alerts.

Metric names start with `billing_`. Every log line of the process (ours, the
Stripe SDK's, uvicorn's) goes through one pipeline: secrets and card numbers are
redacted, then it is rendered as JSON in production, as text in development.
Callers still log ids and outcomes, not payloads; redaction is the second guard.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import httpx
import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics import MetricWrapperBase
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from structlog.typing import EventDict, Processor

from billing import request_id
from billing.auth import API_KEY_PREFIX
from billing.config import Settings
from billing.db import get_database
from billing.http_middleware import HttpMiddleware

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
WEBHOOK_HANDLER_DURATION = Histogram(
    "billing_webhook_handler_duration_seconds",
    "How long an event's handler ran, failed runs included",
    ["type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
# Measured when scraped, so a worker that stopped altogether still shows (see alerts.yml).
WEBHOOK_OVERDUE = Gauge(
    "billing_webhook_overdue_seconds",
    "How long the longest-waiting due inbox event has been due (0: none waiting)",
    multiprocess_mode="mostrecent",
)
# Handlers count each payment once, when recorded: outcome "succeeded" or "failed".
PAYMENTS = Counter("billing_payments_total", "Payments recorded from Stripe", ["outcome"])
ALERTS = Counter("billing_alerts_total", "Alerts raised", ["kind"])
# Exported at 0 from the start, so a rate over the first failure counts it.
for _outcome in ("succeeded", "failed"):
    PAYMENTS.labels(_outcome)


REDACTED = "[REDACTED]"
_B64URL = r"[A-Za-z0-9_\-]"  # base64url, as in Stripe's and our secrets
# Applied in order to every string of every log line; over-redacting a log is cheap.
_SECRET_PATTERNS = [
    # header values in dumps and messages: `Authorization: Bearer x`, "x-api-key": "y", ...
    (
        re.compile(
            r"(?i)((?:proxy-)?authorization|x[-_]api[-_]key|stripe[-_]signature|cookie)"
            r"([\"']?\s*[:=]\s*[\"']?)((?:bearer|basic|token)\s+)?[^\s\"';]+"
        ),
        rf"\1\2\3{REDACTED}",
    ),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{0,20}://[^/\s:@]+:)[^@\s/]+@"), rf"\1{REDACTED}@"),
    (
        re.compile(r"(?i)([?&](?:access_token|token|api_key|key|secret|password)=)[^&\s\"']+"),
        rf"\1{REDACTED}",
    ),
    (re.compile(rf"(?:sk|rk)_(?:test|live)_{_B64URL}+|whsec_{_B64URL}+"), REDACTED),
    (re.compile(r"[a-z]{2,6}_(?:test_|live_)?[A-Za-z0-9]+_secret_[A-Za-z0-9]+"), REDACTED),
    (re.compile(rf"eyJ{_B64URL}{{6,}}(?:\.{_B64URL}*){{0,2}}"), REDACTED),  # JWTs
    (re.compile(rf"{re.escape(API_KEY_PREFIX)}{_B64URL}{{16,}}"), REDACTED),  # our API keys
]
_DIGIT_RUN = re.compile(r"(?<!\d)(?<!\d\.)\d+(?:[ \-]\d+)*")  # not a number's decimals
_SENSITIVE_KEY = re.compile(
    r"(?i)(?:proxy[-_])?authorization|x[-_]api[-_]key|api[-_]?key|stripe[-_]signature"
    r"|(?:set[-_])?cookie|(?:client|webhook)[-_]secret|secret(?:[-_]key)?|password"
    r"|(?:access[-_])?token|jwt"
)
_CARD_LENGTHS = range(13, 20)


def redact(text: str) -> str:
    """`text` without secret keys, webhook secrets, client secrets, JWTs, API keys,
    credential header values or card numbers (Luhn-valid runs of 13 to 19 digits)."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return _DIGIT_RUN.sub(_redact_cards, text)


def _redact_cards(run: re.Match[str]) -> str:
    """Card numbers in a run of digit groups ("4242 4242 4242 4242" or one group):
    every span of whole groups holding 13 to 19 digits that passes the Luhn check."""
    parts = re.split(r"([ \-])", run.group())  # groups at even indexes, separators between
    groups = parts[::2]
    if sum(map(len, groups)) < _CARD_LENGTHS.start:
        return run.group()
    hidden = [False] * len(groups)
    for start in range(len(groups)):
        digits = ""
        for end in range(start + 1, len(groups) + 1):
            digits += groups[end - 1]
            if len(digits) > _CARD_LENGTHS[-1]:
                break
            if len(digits) in _CARD_LENGTHS and _luhn_valid(digits):
                hidden[start:end] = [True] * (end - start)
    pieces = []
    for index, group in enumerate(groups):
        if index > 0 and hidden[index] and hidden[index - 1]:
            continue  # one marker for a whole hidden span
        if index > 0:
            pieces.append(parts[2 * index - 1])
        pieces.append(REDACTED if hidden[index] else group)
    return "".join(pieces)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _scrub(key: object, value: Any) -> Any:
    if isinstance(key, str) and value and _SENSITIVE_KEY.fullmatch(key):
        return REDACTED
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):  # a card number may arrive as an int
        return value if redact(str(value)) == str(value) else REDACTED
    if isinstance(value, Mapping):
        return {k: _scrub(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(None, item) for item in value]
    if isinstance(value, bytes):
        return redact(value.decode(errors="replace"))
    return redact(str(value))


def redact_secrets(_: Any, __: str, event: EventDict) -> EventDict:
    """structlog processor: every value of the event (the message too), nested ones
    included, through `redact`; credential-named keys lose their value whole."""
    return {key: _scrub(key, value) for key, value in event.items()}


# One handler on the root logger for the process; its formatter follows the settings.
_handler = logging.StreamHandler(sys.stdout)


def configure_logging(settings: Settings) -> None:
    """Route every logger through `_handler`: structlog's (ours) and the standard
    library's (the Stripe SDK, uvicorn). `STRIPE_DEBUG` turns on debug logs of both
    this service and the SDK, plus uvicorn's access log (see `billing serve`)."""
    debug = settings.STRIPE_DEBUG
    production = settings.BILLING_ENV == "production"
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        request_id.add_to_log,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    # The same list, refilled: loggers already cached (and tests' `capture_logs`) hold it.
    processors: list[Processor] = structlog.get_config()["processors"]
    processors[:] = [*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter]
    structlog.configure(
        processors=processors,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.DEBUG if debug else logging.INFO
        ),
        cache_logger_on_first_use=True,
    )
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if production
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    _handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                redact_secrets,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)
    root.setLevel(logging.WARNING)  # libraries' info logs (httpx logs URLs) stay quiet
    logging.getLogger("billing").setLevel(logging.DEBUG)  # structlog's level decides
    # The SDK's own logger, never `stripe.log` (that prints past the redaction).
    logging.getLogger("stripe").setLevel(logging.DEBUG if debug else logging.WARNING)
    for name in ("uvicorn", "uvicorn.access"):  # uvicorn's handlers would skip redaction
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.captureWarnings(production)


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route_template(scope: Scope) -> str:
    """The matched route's path template (`/api/financial/credits/{user_id}`), never the
    raw path, so ids and scanners' random paths don't explode label cardinality."""
    return str(getattr(scope.get("route"), "path", "unmatched"))


Metric = TypeVar("Metric", bound=MetricWrapperBase)
_SERIES: dict[tuple[MetricWrapperBase, tuple[str, ...]], MetricWrapperBase] = {}


def series(metric: Metric, *labels: str) -> Metric:
    """`metric.labels(*labels)`, looked up once: `labels()` takes a lock and checks its
    arguments on every call, on the hottest paths. Label values from bounded sets only
    (route templates, event types, statuses), as for any label."""
    found = _SERIES.get((metric, labels))
    if found is None:
        found = _SERIES[(metric, labels)] = metric.labels(*labels)
    return cast(Metric, found)


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
    from billing.worker import overdue_seconds  # the worker imports this module

    try:
        seconds = await asyncio.wait_for(
            overdue_seconds(get_database(request)), OVERDUE_QUERY_TIMEOUT
        )
    except Exception as exc:
        logger.warning("webhook_overdue_unmeasured", error=type(exc).__name__)
        return
    WEBHOOK_OVERDUE.set(seconds)


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
