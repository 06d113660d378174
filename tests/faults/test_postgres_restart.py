"""PostgreSQL restarted under a storm of spends and webhook deliveries: what the service
acknowledged is applied, what it did not is applied once or not at all (retried with its
key, it is applied exactly once), `/readyz` reports the outage, and the service recovers
without a restart of its own. The cluster is a throwaway one: the shared one is never
touched."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from billing.auth.principals import Role
from billing.auth.tokens import issue_token
from billing.core.config import Settings
from billing.credits.models import CreditTransaction
from billing.db.engine import Database
from billing.migrations import upgrade
from billing.webhooks.models import WebhookEvent
from billing.webhooks.processing import retry_delay
from tests.conftest import WEBHOOK_SECRET, assert_ledger_holds
from tests.faults.cluster import Cluster, missing_tools, throwaway_cluster
from tests.faults.storm import ACKNOWLEDGED, Readiness, Storm
from tests.support.server import running_server
from tests.support.worker import credits_by_user, wait_until

# An event the outage failed (or that waits for its payment's event) is retried with backoff,
# 10 s, 20 s, 40 s: the storm's events are all processed within its first three retries.
PROCESSING_WAIT = sum(retry_delay(attempt).total_seconds() for attempt in (1, 2, 3)) + 15

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.serial,
    pytest.mark.skipif(missing_tools() is not None, reason=str(missing_tools())),
]

# Each restart mode storms its own users, sharing one cluster and service. `immediate`
# only: the harshest (no checkpoint, every connection cut); `fast` adds test time, and
# found nothing `immediate` did not.
MODES = {"immediate": [101, 102, 103, 104, 105, 106]}
FUNDING = 1_000_000  # far more than the storm spends: every spend can be applied
LANES = 12
CALM = 1.0  # seconds of storm before the fault, and after the recovery
UNLIMITED = "100000/second"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """One for the module: creating, migrating and serving it is most of the cost."""
    with throwaway_cluster() as created:
        upgrade(created.url)
        yield created


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("restart")


@pytest.fixture(scope="module")
def settings(cluster: Cluster, workdir: Path) -> Settings:
    return Settings(
        _env_file=None,
        BILLING_ENV="development",
        DATABASE_URL=cluster.url,
        BILLING_DATA_DIR=workdir,
    )


@pytest.fixture(scope="module")
def service(settings: Settings, workdir: Path) -> Iterator[str]:
    """The real service with its in-process worker, kept through every restart; rate
    limits out of the way."""
    env = {
        "DATABASE_URL": settings.DATABASE_URL,
        "BILLING_DATA_DIR": str(workdir),
        "BILLING_ENV": "development",
        "BILLING_RUN_WORKER": "true",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "BILLING_RATE_LIMIT": UNLIMITED,
        "BILLING_WEBHOOK_RATE_LIMIT": UNLIMITED,
    }
    with running_server(env, output=workdir / "service.log") as url:
        yield url


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


def bearer(settings: Settings, user_id: int, role: Role = "user") -> dict[str, str]:
    token = issue_token(settings, user_id, role, timedelta(minutes=10))
    return {"Authorization": f"Bearer {token}"}


async def fund(http: httpx.AsyncClient, settings: Settings, users: list[int]) -> None:
    for user_id in users:
        reply = await http.post(
            f"/api/financial/credits/{user_id}/add",
            json={"amount": FUNDING, "reason": "fault test"},
            headers={**bearer(settings, 1, "admin"), "Idempotency-Key": f"fund-{user_id}"},
        )
        assert reply.status_code == 200, reply.text


async def restart(cluster: Cluster, mode: str, readiness: Readiness) -> float:
    """Restart the cluster while watching /readyz: it must report the outage (503, not
    hang) and be ready again within seconds. When it was ready again."""
    restarting = asyncio.create_task(asyncio.to_thread(cluster.ctl, "restart", "-m", mode))
    await readiness.wait_for(503, seconds=10)
    await restarting
    await readiness.wait_for(200, seconds=10)
    return time.monotonic()


async def applied(database: Database) -> tuple[set[str], set[str]]:
    """The ledger's spend keys (the caller's part) and the inbox's event ids."""
    async with database.autocommit() as connection:
        keys = await connection.scalars(select(CreditTransaction.idempotency_key))
        events = await connection.scalars(select(WebhookEvent.stripe_event_id))
        return {key.rsplit(":", 1)[-1] for key in keys}, set(events)


async def all_processed(database: Database, event_ids: list[str]) -> bool:
    query = select(WebhookEvent.status).where(WebhookEvent.stripe_event_id.in_(event_ids))
    async with database.autocommit() as connection:
        statuses = list(await connection.scalars(query))
    return len(statuses) == len(event_ids) and set(statuses) == {"processed"}


async def unprocessed(database: Database, event_ids: list[str]) -> list[tuple[str, ...]]:
    """The events still not processed: their status, attempts and last error."""
    query = select(
        WebhookEvent.stripe_event_id,
        WebhookEvent.status,
        WebhookEvent.attempts,
        WebhookEvent.last_error,
    ).where(WebhookEvent.stripe_event_id.in_(event_ids), WebhookEvent.status != "processed")
    async with database.autocommit() as connection:
        return [tuple(map(str, row)) for row in await connection.execute(query)]


async def storm_through_restart(
    http: httpx.AsyncClient, settings: Settings, cluster: Cluster, mode: str
) -> tuple[Storm, float]:
    """The storm, with the restart in its middle; and when the service was ready again."""
    storm = Storm(http, lambda user: bearer(settings, user), WEBHOOK_SECRET, MODES[mode])
    running = asyncio.create_task(storm.run(LANES))
    try:
        async with httpx.AsyncClient(base_url=str(http.base_url)) as probes:
            await asyncio.sleep(CALM)
            ready_again = await restart(cluster, mode, Readiness(probes))
            await asyncio.sleep(CALM)
    finally:
        storm.stop.set()
        await running
    return storm, ready_again


def assert_recovered(storm: Storm, ready_again: float) -> None:
    """Outage refusals were 503s, and once /readyz said so, every call went through."""
    refusals = {outcome for outcome in storm.first_outcomes() if outcome.startswith("refused")}
    assert refusals <= {"refused 503 service_unavailable"}
    after = [call for call in storm.calls if call.started > ready_again and not call.impatient]
    assert any(call.kind == "spend" for call in after), "no spend was made after the recovery"
    assert all(call.outcomes == [ACKNOWLEDGED] for call in after), "not recovered"


async def assert_acknowledged_applied(storm: Storm, database: Database) -> Counter[str]:
    """Every acknowledged call is on disk; which others are too (before any retry), by
    what their callers were told."""
    keys, events = await applied(database)
    applied_anyway: Counter[str] = Counter()
    for call in storm.calls:
        on_disk = call.key in (keys if call.kind == "spend" else events)
        assert on_disk or not call.acknowledged, call
        if on_disk and not call.acknowledged:
            applied_anyway[call.outcomes[0]] += 1
    return applied_anyway


async def assert_each_applied_once(
    storm: Storm, http: httpx.AsyncClient, settings: Settings, database: Database
) -> None:
    """Every balance as if each call was applied exactly once, by as many transactions."""
    webhooks = [call.key for call in storm.calls if call.kind == "webhook"]
    try:
        await wait_until(lambda: all_processed(database, webhooks), seconds=PROCESSING_WAIT)
    except AssertionError as exc:
        raise AssertionError(await unprocessed(database, webhooks)) from exc
    for user_id, expected in storm.expected_balances(FUNDING).items():
        reply = await http.get(
            f"/api/financial/credits/{user_id}", headers=bearer(settings, user_id)
        )
        assert reply.json()["balance"] == expected, user_id
    ledger = await credits_by_user(database)
    for user_id in storm.users:
        calls = sum(call.user_id == user_id for call in storm.calls)
        assert ledger[user_id][0] == 1 + calls, user_id


@pytest.mark.parametrize("mode", MODES)
async def test_a_restart_during_a_storm_loses_nothing_and_applies_nothing_twice(
    cluster: Cluster, settings: Settings, service: str, database: Database, mode: str
) -> None:
    async with httpx.AsyncClient(base_url=service) as http:
        await fund(http, settings, MODES[mode])
        storm, ready_again = await storm_through_restart(http, settings, cluster, mode)
        assert_recovered(storm, ready_again)
        applied_anyway = await assert_acknowledged_applied(storm, database)
        print(f"restart -m {mode}: {dict(storm.first_outcomes())}")
        print(f"applied though not acknowledged: {dict(applied_anyway)}")
        await storm.settle(seconds=30, lanes=LANES)
        await assert_each_applied_once(storm, http, settings, database)
    await assert_ledger_holds(settings.DATABASE_URL)
