"""`billing worker` as real processes: killed outright, stopped politely, run in pairs.

The events are real top-ups (`payment_intent.succeeded` with the payment form's
metadata), handled by the real handler, so each one's effect is visible in the ledger.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from billing.core.config import Settings
from billing.credits.verify import verify_ledger
from billing.db.engine import Database
from tests.support.worker import (
    ONLY_POSTGRES,
    count_done,
    credits_by_user,
    file_events,
    inbox_rows,
    topup_event,
    wait_until,
    worker_logs,
    worker_process,
)

EVENTS = 300
ONLY_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def credits_for(user: int) -> int:
    return 100 + user


async def fill_inbox(database: Database, settings: Settings, count: int = EVENTS) -> None:
    await file_events(
        database, settings, [topup_event(u, credits_for(u)) for u in range(1, count + 1)]
    )


async def assert_each_effect_once(database: Database, count: int = EVENTS) -> None:
    rows = await inbox_rows(database)
    assert len(rows) == count
    assert {(e.status, e.attempts) for e in rows} == {("processed", 1)}, "an event ran twice"
    expected = {u: (1, credits_for(u)) for u in range(1, count + 1)}
    assert await credits_by_user(database) == expected
    async with database.sessions() as session, session.begin():
        assert (await verify_ledger(session)).ok


async def drained(database: Database, count: int = EVENTS) -> bool:
    return await count_done(database) == count


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


async def test_a_worker_killed_mid_batch_leaves_each_effect_exactly_once(
    database: Database, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    await fill_inbox(database, settings)
    with worker_process(database_url, tmp_path) as first:
        await wait_until(lambda: _at_least(database, EVENTS // 5))
        first.send_signal(signal.SIGKILL)
        first.wait()
    done_when_killed = await count_done(database)
    assert 0 < done_when_killed < EVENTS, "the kill did not land mid-batch"
    with worker_process(database_url, tmp_path) as second:
        await wait_until(lambda: drained(database), seconds=60)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=10) == 0
    await assert_each_effect_once(database)


async def _at_least(database: Database, count: int) -> bool:
    return await count_done(database) >= count


# Enough that the signal lands mid-way even when the test process, polling, is slowed by
# the rest of the suite: with 300, a busy run once saw the worker finish them all first.
SIGTERM_EVENTS = 5 * EVENTS


async def test_sigterm_finishes_the_event_in_hand_and_exits_cleanly(
    database: Database, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    await fill_inbox(database, settings, SIGTERM_EVENTS)
    with worker_process(database_url, tmp_path) as worker:
        await wait_until(lambda: _at_least(database, 10))
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
    # Nothing half-done: every event is either processed with its effect, or untouched.
    rows = await inbox_rows(database)
    done = [e for e in rows if e.status != "pending"]
    assert 10 <= len(done) < SIGTERM_EVENTS
    assert {(e.status, e.attempts) for e in done} == {("processed", 1)}
    assert {e.attempts for e in rows if e.status == "pending"} == {0}
    assert len(await credits_by_user(database)) == len(done)


@ONLY_POSTGRES
async def test_two_workers_on_postgresql_never_process_an_event_twice(
    database: Database, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    await fill_inbox(database, settings)
    with (
        worker_process(database_url, tmp_path) as one,
        worker_process(database_url, tmp_path) as two,
    ):
        await wait_until(lambda: drained(database), seconds=60)
        for worker in (one, two):
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=10) == 0
    await assert_each_effect_once(database)


@ONLY_SQLITE
async def test_a_second_worker_on_one_sqlite_database_refuses_to_start(
    database: Database, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    await fill_inbox(database, settings, 1)
    with worker_process(database_url, tmp_path) as first:
        await wait_until(lambda: drained(database, 1))  # it runs: it holds the lock
        with worker_process(database_url, tmp_path) as second:
            assert second.wait(timeout=20) == 2
        assert first.poll() is None
    assert "Another process already runs this SQLite database's worker" in worker_logs(tmp_path)
