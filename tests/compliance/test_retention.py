"""Retention: old webhook payloads dropped (rows kept), expired idempotency keys deleted."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from billing.compliance.jobs import periodic_jobs
from billing.compliance.retention import run_retention
from billing.core.config import Settings
from billing.core.times import utcnow
from billing.db.engine import Database
from billing.idempotency.models import IdempotencyRecord
from billing.idempotency.store import KEY_TTL
from billing.runtime.cli import app
from billing.webhooks.models import WebhookEvent
from billing.webhooks.worker import run_periodically, worker_task
from tests.compliance.privacy import webhook_event, without_payload

NOW = datetime.fromisoformat("2027-03-01T12:00:00+00:00")
SECOND = timedelta(seconds=1)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


async def add_events(database: Database, events: dict[str, WebhookEvent]) -> dict[str, int]:
    async with database.sessions() as session, session.begin():
        session.add_all(events.values())
        await session.flush()
        return {name: event.id for name, event in events.items()}


async def pruned(database: Database, ids: dict[str, int]) -> set[str]:
    """The names of the events whose payload is gone (their rows stay)."""
    gone = await without_payload(database, ids.values())
    return {name for name, event_id in ids.items() if event_id in gone}


def key(expires_at: datetime, name: str) -> IdempotencyRecord:
    return IdempotencyRecord(
        scope="admin:1",
        key=name,
        fingerprint="f" * 64,
        status="completed",
        response_status=200,
        response_body=b"{}",
        response_type="application/json",
        locked_at=expires_at - KEY_TTL,
        created_at=expires_at - KEY_TTL,
        expires_at=expires_at,
    )


async def keys_left(database: Database) -> set[str]:
    async with database.sessions() as session:
        return set(await session.scalars(select(IdempotencyRecord.key)))


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
async def test_finished_events_older_than_the_retention_lose_their_payload(
    database: Database, settings: Settings, batch_size: int
) -> None:
    cutoff = NOW - timedelta(days=365)
    ids = await add_events(
        database,
        {
            "processed, just older": webhook_event("processed", cutoff - SECOND),
            "ignored, a year and a month": webhook_event("ignored", cutoff - timedelta(days=30)),
            "dead, old": webhook_event("dead", cutoff - timedelta(days=400)),
            "processed, exactly at the limit": webhook_event("processed", cutoff),
            "processed, recent": webhook_event("processed", NOW - timedelta(days=1)),
            "pending, old": webhook_event("pending", cutoff - timedelta(days=2)),
            "failed, old": webhook_event("failed", cutoff - timedelta(days=2)),
        },
    )

    counts = await run_retention(database, settings, NOW, batch_size=batch_size)

    assert counts.webhook_payloads_pruned == 3
    assert await pruned(database, ids) == {
        "processed, just older",
        "ignored, a year and a month",
        "dead, old",
    }
    again = await run_retention(database, settings, NOW, batch_size=batch_size)
    assert again.webhook_payloads_pruned == 0


async def test_the_retention_period_is_the_configured_one(
    database: Database, settings: Settings
) -> None:
    ids = await add_events(
        database,
        {
            "31 days": webhook_event("processed", NOW - timedelta(days=31)),
            "29 days": webhook_event("processed", NOW - timedelta(days=29)),
        },
    )
    month = settings.model_copy(update={"BILLING_WEBHOOK_RETENTION_DAYS": 30})
    assert (await run_retention(database, month, NOW)).webhook_payloads_pruned == 1
    assert await pruned(database, ids) == {"31 days"}


async def test_expired_idempotency_keys_are_deleted_and_live_ones_kept(
    database: Database, settings: Settings
) -> None:
    async with database.sessions() as session, session.begin():
        session.add_all(
            [
                key(NOW - timedelta(days=3), "long expired"),
                key(NOW - SECOND, "just expired"),
                key(NOW, "expires now"),  # the store treats expires_at <= now as expired
                key(NOW + SECOND, "still live"),
                key(NOW + KEY_TTL, "new"),
            ]
        )

    counts = await run_retention(database, settings, NOW, batch_size=2)

    assert counts.idempotency_keys_deleted == 3
    assert await keys_left(database) == {"still live", "new"}
    assert (await run_retention(database, settings, NOW)).idempotency_keys_deleted == 0


def test_the_retention_command_reports_its_counts(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    async def prepare() -> None:
        database = Database(settings)
        await add_events(
            database, {"old": webhook_event("processed", utcnow() - 400 * 24 * 3600 * SECOND)}
        )
        async with database.sessions() as session, session.begin():
            session.add(key(utcnow() - SECOND, "expired"))
        await database.dispose()

    asyncio.run(prepare())
    env = {
        "DATABASE_URL": database_url,
        "BILLING_DATA_DIR": str(tmp_path),
        "BILLING_ENV": "development",
    }
    result = CliRunner().invoke(app, ["retention"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 webhook payloads older than 365 days pruned" in result.stdout
    assert "1 expired idempotency keys deleted" in result.stdout


async def test_a_periodic_job_runs_at_start_then_each_interval_and_outlives_failures() -> None:
    stop = asyncio.Event()
    runs: list[float] = []

    async def job() -> None:
        runs.append(asyncio.get_running_loop().time())
        if len(runs) == 2:
            raise RuntimeError("the database is down")
        if len(runs) == 4:
            stop.set()

    await asyncio.wait_for(run_periodically(stop, 0.05, job, "test"), 5)
    assert len(runs) == 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    assert all(gap >= 0.04 for gap in gaps)


async def test_a_job_with_more_to_do_runs_again_at_once_and_may_stop_in_between() -> None:
    stop = asyncio.Event()
    runs: list[float] = []

    async def job() -> bool:
        runs.append(asyncio.get_running_loop().time())
        if len(runs) == 5:
            stop.set()
        return len(runs) != 3  # a backlog, drained on the third run, then another

    await asyncio.wait_for(run_periodically(stop, 1.0, job, "test"), 5)
    assert len(runs) == 5
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    assert max(gaps[:2]) < 0.5  # no pause while the job has more to do
    assert gaps[2] >= 0.9  # the pause once it had none
    assert max(gaps[3:]) < 0.5


async def test_the_worker_applies_retention_when_it_starts(
    database: Database, settings: Settings
) -> None:
    ids = await add_events(
        database, {"old": webhook_event("processed", utcnow() - timedelta(days=366))}
    )
    async with worker_task(
        settings, database, None, asyncio.Event(), periodic_jobs(settings, database)
    ) as task:
        assert task is not None
        for _ in range(100):
            if await pruned(database, ids):
                break
            await asyncio.sleep(0.05)
    assert await pruned(database, ids) == {"old"}
