"""Prometheus metrics of the service; names start with `billing_`."""

from __future__ import annotations

import math
from typing import TypeVar, cast

from prometheus_client import (
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.metrics import MetricWrapperBase

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

# Reads that may be a little stale (db/replica.py): to the replica when it is caught up,
# else to the primary, the reason "down" or "lagging".
REPLICA_READS = Counter(
    "billing_replica_reads_total", "Reads the replica may serve, by where they went", ["reason"]
)
REPLICA_LAG = Gauge(
    "billing_replica_lag_seconds",
    "The replica's replay lag when last measured (NaN: it did not answer)",
    multiprocess_mode="mostrecent",
)


def count_replica_read(reason: str, lag: float | None) -> None:
    series(REPLICA_READS, reason).inc()
    REPLICA_LAG.set(math.nan if lag is None else lag)


# Exported at 0 from the start, so a rate over the first failure counts it.
for _outcome in ("succeeded", "failed"):
    PAYMENTS.labels(_outcome)


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
