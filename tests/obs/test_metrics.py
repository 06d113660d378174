"""Metrics: bounded HTTP labels, the worker's timings, the overdue gauge measured when
scraped, several processes summed in multiprocess mode, and alert rules that only name
metrics the service exports."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.config import Settings
from billing.core.times import utcnow
from billing.db.engine import Database
from billing.http import metrics
from billing.webhooks.models import WebhookEvent
from billing.webhooks.processing import process_due
from tests.conftest import POSTGRES_URL, Credentials
from tests.support.server import running_server
from tests.support.stripe_events import FILING, stripe_event
from tests.support.worker import file_events

ALERT_RULES = Path(__file__).parents[2] / "deploy" / "prometheus" / "alerts.yml"


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, str], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return parse(response.text)


def parse(text: str) -> dict[tuple[str, str], float]:
    """The exposition as {(sample name, its labels sorted): value}."""
    return {
        (sample.name, labels(**sample.labels)): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labels(**values: str) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(values.items()))


def sample(name: str, **label_values: str) -> float:
    return REGISTRY.get_sample_value(name, label_values) or 0.0


async def test_http_latency_is_labelled_by_the_route_template(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    template = "/api/financial/credits/{user_id}"
    before = sample("billing_http_request_duration_seconds_count", method="GET", route=template)
    for user_id in (7, 8, 9):
        reply = await client.get(f"/api/financial/credits/{user_id}", headers=creds.admin())
        assert reply.status_code == 200
    metrics = await scrape(client)
    timed = labels(method="GET", route=template)
    assert metrics[("billing_http_request_duration_seconds_count", timed)] == before + 3
    counted = labels(method="GET", route=template, status="200")
    assert metrics[("billing_http_requests_total", counted)] >= 3
    routes = {label for _, label in metrics if "route=" in label}
    assert not [r for r in routes if re.search(r"route=/api/financial/credits/\d", r)]


async def test_unknown_paths_and_methods_each_share_one_label(client: httpx.AsyncClient) -> None:
    before = sample("billing_http_requests_total", method="GET", route="unmatched", status="404")
    for path in ("/wp-admin/setup.php", "/no/such/path/123", "/api/financial/nothing"):
        assert (await client.get(path)).status_code == 404
    odd_before = sample(
        "billing_http_requests_total", method="OTHER", route="/healthz", status="405"
    )
    assert (await client.request("BREW", "/healthz")).status_code == 405
    metrics = await scrape(client)
    unmatched = labels(method="GET", route="unmatched", status="404")
    assert metrics[("billing_http_requests_total", unmatched)] == before + 3
    odd = labels(method="OTHER", route="/healthz", status="405")
    assert metrics[("billing_http_requests_total", odd)] == odd_before + 1
    assert not [label for _, label in metrics if "wp-admin" in label or "BREW" in label]


async def succeeds(session: AsyncSession, event: WebhookEvent) -> None:
    return None


async def fails(session: AsyncSession, event: WebhookEvent) -> None:
    raise RuntimeError("handler broke")


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


async def test_the_worker_times_handlers_and_the_lag_since_receipt(database: Database) -> None:
    durations = "billing_webhook_handler_duration_seconds_count"
    lag_count, lag_sum = (f"billing_webhook_processing_lag_seconds_{s}" for s in ("count", "sum"))
    before = {
        "ok": sample(durations, type="test.ok"),
        "broken": sample(durations, type="test.broken"),
        "lag": sample(lag_count),
        "lag_sum": sample(lag_sum),
    }
    await file_events(database, FILING, [stripe_event("test.ok"), stripe_event("test.broken")])
    async with database.sessions() as session, session.begin():  # received 30 s ago
        received = utcnow() - timedelta(seconds=30)
        await session.execute(update(WebhookEvent).values(received_at=received))
    assert await process_due(database, {"test.ok": succeeds, "test.broken": fails}, 10) == 2
    assert sample(durations, type="test.ok") == before["ok"] + 1
    assert sample(durations, type="test.broken") == before["broken"] + 1  # failures timed too
    assert sample(lag_count) == before["lag"] + 1  # only the processed one has a lag
    assert 30 <= sample(lag_sum) - before["lag_sum"] < 60


def app_state(client: httpx.AsyncClient) -> Any:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    return transport.app.state  # type: ignore[attr-defined]


async def test_metrics_show_how_long_the_oldest_due_event_has_waited(
    client: httpx.AsyncClient, database: Database
) -> None:
    app_state(client).overdue.max_age = 0  # measured at every scrape, to follow the inbox
    gauge = ("billing_webhook_overdue_seconds", "")
    assert (await scrape(client))[gauge] == 0
    await file_events(database, FILING, [stripe_event("test.waiting"), stripe_event("test.later")])
    async with database.sessions() as session, session.begin():
        due = utcnow() - timedelta(seconds=120)
        await session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.type == "test.waiting")
            .values(next_attempt_at=due)
        )
        later = utcnow() + timedelta(hours=1)  # a retry backing off is not overdue
        await session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.type == "test.later")
            .values(status="failed", next_attempt_at=later)
        )
    assert 120 <= (await scrape(client))[gauge] < 180
    assert await process_due(database, {"test.waiting": succeeds}, 10) == 1
    assert (await scrape(client))[gauge] == 0


async def test_scrapes_share_one_overdue_query_per_interval(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/metrics is not rate-limited: however often it is scraped, the inbox is queried at
    most once per interval, and concurrent scrapes wait for the one query in flight."""
    queries, release = [], asyncio.Event()

    async def overdue_seconds(database: Database) -> float:
        queries.append(database)
        await release.wait()
        return 42.0 + len(queries)

    monkeypatch.setattr(metrics, "overdue_seconds", overdue_seconds)
    now = [1000.0]
    app_state(client).overdue.clock = lambda: now[0]
    gauge = ("billing_webhook_overdue_seconds", "")

    scrapes = [asyncio.create_task(scrape(client)) for _ in range(5)]
    await asyncio.sleep(0.05)
    release.set()
    assert [found[gauge] for found in await asyncio.gather(*scrapes)] == [43.0] * 5
    assert len(queries) == 1
    now[0] += metrics.OVERDUE_MAX_AGE - 0.1
    assert (await scrape(client))[gauge] == 43.0
    assert len(queries) == 1
    now[0] += 0.1
    assert (await scrape(client))[gauge] == 44.0
    assert len(queries) == 2


async def test_a_failed_overdue_query_also_waits_for_the_interval(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that does not answer is not asked again at every scrape either; the
    gauge keeps its last value meanwhile (the readiness probe reports the outage)."""
    queries: list[Database] = []

    async def broken(database: Database) -> float:
        queries.append(database)
        raise OSError("the database is down")

    monkeypatch.setattr(metrics, "overdue_seconds", broken)
    now = [1000.0]
    app_state(client).overdue.clock = lambda: now[0]
    for _ in range(3):
        assert (await client.get("/metrics")).status_code == 200
    assert len(queries) == 1
    now[0] += metrics.OVERDUE_MAX_AGE
    assert (await client.get("/metrics")).status_code == 200
    assert len(queries) == 2


async def test_payment_outcomes_are_exported_before_the_first_payment(
    client: httpx.AsyncClient,
) -> None:
    metrics = await scrape(client)
    for outcome in ("succeeded", "failed"):
        assert ("billing_payments_total", labels(outcome=outcome)) in metrics


COUNT_IN_A_PROCESS = """
from billing.obs.metrics import CREDIT_OPERATIONS, WEBHOOK_LAG
for _ in range({n}):
    CREDIT_OPERATIONS.labels("spend").inc()
    WEBHOOK_LAG.observe(0.3)
"""
SCRAPE = """
import asyncio, sys
import httpx
from billing.http.app import create_app
from billing.core.config import Settings

async def main():
    app = create_app(Settings(_env_file=None, BILLING_ENV="development", DATABASE_URL=sys.argv[1]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        sys.stdout.write((await http.get("/metrics")).text)
    await app.state.database.dispose()

asyncio.run(main())
"""


def run_python(code: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_multiprocess_mode_sums_every_process(tmp_path: Path, database_url: str) -> None:
    """Two processes count; a third, serving /metrics, reports both (the mode
    `billing serve --workers N` and a `billing worker` beside it need)."""
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "BILLING_DATA_DIR": str(tmp_path),
    }
    run_python(COUNT_IN_A_PROCESS.format(n=3), env)
    run_python(COUNT_IN_A_PROCESS.format(n=4), env)
    metrics = parse(run_python(SCRAPE, env, database_url))
    assert metrics[("billing_credit_operations_total", labels(kind="spend"))] == 7
    assert metrics[("billing_webhook_processing_lag_seconds_count", "")] == 7
    assert metrics[("billing_webhook_processing_lag_seconds_bucket", labels(le="0.5"))] == 7
    assert metrics[("billing_webhook_overdue_seconds", "")] == 0


@pytest.mark.skipif(not POSTGRES_URL, reason="several `billing serve` workers need PostgreSQL")
def test_a_server_with_two_workers_reports_all_requests(tmp_path: Path, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serves with one worker process")
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {
        "DATABASE_URL": database_url,
        "BILLING_DATA_DIR": str(tmp_path),
        "BILLING_ENV": "development",
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
    }
    requests = 40
    with running_server(env, workers=2) as url:
        for _ in range(requests):  # a connection each, so both workers take some
            assert httpx.get(f"{url}/healthz", headers={"Connection": "close"}).status_code == 200
        key = ("billing_http_requests_total", labels(method="GET", route="/healthz", status="200"))
        for _ in range(6):  # whichever worker answers the scrape, it reports every request
            with httpx.Client(base_url=url) as http:
                assert parse(http.get("/metrics").text)[key] == requests
    pids = {re.sub(r"\D", "", path.name) for path in directory.glob("counter_*.db")}
    assert len(pids) == 3  # the supervisor and both workers wrote to the directory


def exported_names() -> set[str]:
    """Every sample name the service's metrics can produce."""
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_count", "_sum"),
        "gauge": ("",),
    }
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        if family.name.startswith("billing_")
        for suffix in suffixes.get(family.type, ("",))
    }


def test_the_alert_rules_name_only_exported_metrics() -> None:
    rules = yaml.safe_load(ALERT_RULES.read_text())["groups"][0]["rules"]
    assert {rule["alert"] for rule in rules} >= {
        "BillingWebhookEventDead",
        "BillingWebhookFailureRate",
        "BillingPaymentFailureSpike",
        "BillingInsufficientCreditsBurst",
        "BillingWebhookWorkerLag",
        "BillingWebhookWorkerStalled",
        "BillingRateLimitsUnchecked",
    }
    used = {name for rule in rules for name in re.findall(r"billing_[a-z_]+", rule["expr"])}
    assert used
    assert used <= exported_names(), used - exported_names()
