"""The worker's run loop, in process and inside a real `billing serve`."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from billing.core.config import Settings
from billing.core.foreground import FOREGROUND
from billing.credits.accounts import PURCHASE
from billing.credits.service import post_within
from billing.credits.transfers import Transfer
from billing.db.engine import Database
from billing.http.app import create_app
from billing.webhooks.models import WebhookEvent
from billing.webhooks.worker import run
from tests.conftest import WEBHOOK_SECRET
from tests.support.server import running_server
from tests.support.stripe_events import FILING, sign, stripe_event
from tests.support.worker import (
    count_done,
    credits_by_user,
    file_events,
    inbox_rows,
    topup_event,
    wait_until,
)

# Money paths: on PostgreSQL, also through PgBouncer in transaction pooling.
pytestmark = pytest.mark.pgbouncer

USER = 9


async def grant(session: AsyncSession, event: WebhookEvent) -> None:
    key = f"loop:{event.stripe_event_id}"
    await post_within(session, Transfer(PURCHASE, USER, 10, actor="stripe", idempotency_key=key))


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


async def test_the_loop_processes_events_as_they_arrive(database: Database) -> None:
    lag_before = REGISTRY.get_sample_value("billing_webhook_processing_lag_seconds_count") or 0
    stop = asyncio.Event()
    task = asyncio.create_task(run(database, {"test.grant": grant}, stop, poll_interval=0.02))
    await file_events(database, FILING, [stripe_event("test.grant") for _ in range(3)])
    await wait_until(lambda: _done(database, 3), seconds=10)
    # More arrive while it idles: it notices within a poll.
    await file_events(
        database, FILING, [stripe_event("test.grant"), stripe_event("customer.updated")]
    )
    await wait_until(lambda: _done(database, 5), seconds=10)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    rows = await inbox_rows(database)
    assert [(e.status, e.attempts) for e in rows] == [("processed", 1)] * 4 + [("ignored", 1)]
    assert await credits_by_user(database) == {USER: (4, 40)}
    lag_after = REGISTRY.get_sample_value("billing_webhook_processing_lag_seconds_count")
    assert lag_after == lag_before + 5


async def _done(database: Database, count: int) -> bool:
    return await count_done(database) >= count


async def test_stopping_finishes_the_event_in_hand_and_takes_no_more(database: Database) -> None:
    stop = asyncio.Event()

    async def grant_then_stop(session: AsyncSession, event: WebhookEvent) -> None:
        stop.set()  # as a SIGTERM arriving mid-event would
        await asyncio.sleep(0.05)
        await grant(session, event)

    await file_events(database, FILING, [stripe_event("test.grant") for _ in range(3)])
    await asyncio.wait_for(run(database, {"test.grant": grant_then_stop}, stop), timeout=5)
    rows = await inbox_rows(database)
    assert [e.status for e in rows] == ["processed", "pending", "pending"]
    assert await credits_by_user(database) == {USER: (1, 10)}


async def test_an_idle_loop_stops_at_once(database: Database) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run(database, {}, stop, poll_interval=60))
    await asyncio.sleep(0.1)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, timeout=1)


async def test_the_loop_outlives_a_database_it_cannot_use(tmp_path: Path) -> None:
    """No schema at all (as a database being restored): it logs, keeps going, still stops."""
    broken = Database(
        Settings(
            _env_file=None,
            BILLING_ENV="development",
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x",
        )
    )
    stop = asyncio.Event()
    with capture_logs() as logs:
        task = asyncio.create_task(run(broken, {}, stop, poll_interval=0.01))
        await asyncio.sleep(0.2)
        assert not task.done()
        stop.set()
        await asyncio.wait_for(task, timeout=1)
    await broken.dispose()
    assert [log["event"] for log in logs] == ["worker_cycle_failed"]


async def test_one_sqlite_database_gets_one_in_process_worker(settings: Settings) -> None:
    """As if uvicorn ran several processes: only the first app starts a worker on SQLite;
    on PostgreSQL (SKIP LOCKED) each may. The lock is freed when the app stops."""
    worker_settings = settings.model_copy(update={"BILLING_RUN_WORKER": True})
    first, second, third = (create_app(worker_settings) for _ in range(3))
    async with first.router.lifespan_context(first):
        assert isinstance(first.state.worker, asyncio.Task)
        async with second.router.lifespan_context(second):
            if settings.is_sqlite:
                assert second.state.worker is None
            else:
                assert isinstance(second.state.worker, asyncio.Task)
    assert first.state.worker.done()
    async with third.router.lifespan_context(third):
        assert isinstance(third.state.worker, asyncio.Task)


async def test_no_in_process_worker_unless_configured(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"BILLING_RUN_WORKER": False}))
    async with app.router.lifespan_context(app):
        assert app.state.worker is None


@pytest.fixture
def sqlite_copy(migrated: dict[str, str], tmp_path: Path) -> str:
    path = tmp_path / "served.db"
    shutil.copy(migrated["sqlite"], path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.mark.parametrize("run_worker", ["true", "false"])
async def test_serve_on_sqlite_processes_a_delivered_event_in_process(
    sqlite_copy: str, tmp_path: Path, run_worker: str
) -> None:
    env = {
        "DATABASE_URL": sqlite_copy,
        "BILLING_DATA_DIR": str(tmp_path),
        "BILLING_ENV": "development",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "BILLING_RUN_WORKER": run_worker,
    }
    body = topup_event(user_id=31, credits=700)
    database = Database(
        Settings(_env_file=None, BILLING_ENV="development", DATABASE_URL=sqlite_copy)
    )
    try:
        with running_server(env) as base_url:
            async with httpx.AsyncClient(base_url=base_url) as http:
                response = await http.post(
                    "/api/stripe/webhook",
                    content=body,
                    headers={"Stripe-Signature": sign(body, WEBHOOK_SECRET)},
                )
            assert response.status_code == 200, response.text
            if run_worker == "true":
                await wait_until(lambda: _done(database, 1), seconds=5)
            else:
                await asyncio.sleep(1)
        [event] = await inbox_rows(database)
        if run_worker == "true":
            assert (event.status, event.attempts) == ("processed", 1), event.last_error
            assert await credits_by_user(database) == {31: (1, 700)}
        else:
            assert event.status == "pending"
            assert await credits_by_user(database) == {}
    finally:
        await database.dispose()


async def test_on_sqlite_the_loop_waits_for_a_pause_in_requests_in_its_process(
    database: Database,
) -> None:
    """On SQLite the worker in `billing serve` shares the process's core with requests:
    it starts no batch while one is in flight (up to `YIELD_SECONDS`), then catches up.
    On PostgreSQL it does not wait."""
    await file_events(database, FILING, [stripe_event("test.grant") for _ in range(2)])
    FOREGROUND.enter()  # a request in flight
    stop = asyncio.Event()
    task = asyncio.create_task(run(database, {"test.grant": grant}, stop, poll_interval=0.02))
    try:
        if database.dialect == "sqlite":
            for _ in range(5):  # the loop gets every chance to run, and takes nothing
                await asyncio.sleep(0.02)
            assert await count_done(database) == 0
        else:
            await wait_until(lambda: _done(database, 2), seconds=10)
    finally:
        FOREGROUND.leave()
    await wait_until(lambda: _done(database, 2), seconds=10)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
