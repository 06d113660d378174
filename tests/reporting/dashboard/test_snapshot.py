"""The dashboard's parallel readers on PostgreSQL see one snapshot: a payment committed
while they run is seen by none of them, though each reads on its own connection; and
dashboards side by side never starve each other of pooled connections."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from billing.auth.tokens import issue_token
from billing.core.config import Settings
from billing.core.times import utcnow
from billing.db.engine import Database
from billing.payments.models import Payment
from billing.reporting.dashboard import snapshot as snapshot_module
from billing.reporting.dashboard.snapshot import REPORT_SETTINGS, read_together
from tests.conftest import asgi_client
from tests.reporting.dashboard.test_service import DASHBOARD, insert, payment
from tests.support.activity import idle_in_transaction


async def count_payments(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Payment)) or 0)


async def test_parallel_readers_share_the_snapshot_taken_before_them(database: Database) -> None:
    if database.dialect != "postgresql":
        pytest.skip("SQLite runs the readers in turn, outside any transaction")
    await insert(database, [payment(utcnow() - timedelta(hours=1), 100)])
    committed = asyncio.Event()

    async def leader(session: AsyncSession) -> int:
        await insert(database, [payment(utcnow(), 200)])  # commits on its own connection
        committed.set()
        return await count_payments(session)

    async def follower(session: AsyncSession) -> int:
        await committed.wait()
        return await count_payments(session)

    assert await read_together(database, [leader, follower, follower]) == [1, 1, 1]
    assert await read_together(database, [count_payments, count_payments]) == [2, 2]


async def test_every_reader_runs_with_the_report_settings(database: Database) -> None:
    if database.dialect != "postgresql":
        pytest.skip("SQLite has no such settings")

    async def settings(session: AsyncSession) -> dict[str, str]:
        return {name: str(await session.scalar(text(f"SHOW {name}"))) for name in REPORT_SETTINGS}

    assert await read_together(database, [settings, settings, settings]) == [REPORT_SETTINGS] * 3


def _url(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


async def _cancelled(reading: Awaitable[Any], after: float) -> None:
    task = asyncio.ensure_future(reading)
    await asyncio.sleep(after)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_reader_that_fails_or_is_cancelled_leaves_no_transaction_open(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether a reader fails, is cancelled in its query, or is cancelled while its
    transaction begins, every connection is back out of its transaction after."""
    if database.dialect != "postgresql":
        pytest.skip("SQLite runs the readers outside any transaction")

    async def failing(session: AsyncSession) -> int:
        return int(await session.scalar(text("SELECT 1 / 0")) or 0)

    async def sleeping(session: AsyncSession) -> int:
        return int(await session.scalar(text("SELECT 1 FROM pg_sleep(30)")) or 0)

    with pytest.raises(DBAPIError, match="division by zero"):
        await read_together(database, [count_payments, failing, count_payments])
    assert await idle_in_transaction(_url(database)) == 0
    await _cancelled(read_together(database, [count_payments, sleeping]), after=0.5)
    assert await idle_in_transaction(_url(database)) == 0
    begin = snapshot_module._begin
    monkeypatch.setattr(snapshot_module, "_begin", lambda at: f"{begin(at)}; SELECT pg_sleep(30)")
    await _cancelled(read_together(database, [count_payments, count_payments]), after=0.5)
    assert await idle_in_transaction(_url(database)) == 0
    monkeypatch.undo()
    await insert(database, [payment(utcnow(), 100)])  # the pool's connections still write
    assert await read_together(database, [count_payments, count_payments]) == [1, 1]


async def test_on_sqlite_readers_run_in_turn_and_see_every_commit(database: Database) -> None:
    if database.dialect != "sqlite":
        pytest.skip("PostgreSQL readers share a snapshot")

    async def writer_then_count(session: AsyncSession) -> int:
        await insert(database, [payment(utcnow(), 200)])
        return await count_payments(session)

    assert await read_together(database, [count_payments, writer_then_count]) == [0, 1]


@pytest.mark.parametrize("pool_size", [1, 2])
async def test_concurrent_dashboards_never_starve_each_other_of_connections(
    settings: Settings, pool_size: int
) -> None:
    """Each dashboard's first connection waits for the others it needs: run side by side,
    they could hold every pooled connection and wait forever (here: the pool timeout)."""
    if not settings.DATABASE_URL.startswith("postgresql"):
        pytest.skip("SQLite reads on one connection")
    small_pool = settings.model_copy(update={"DATABASE_POOL_SIZE": pool_size})
    token = issue_token(small_pool, 1, "admin", timedelta(minutes=5))
    async with asgi_client(small_pool) as http:
        replies = await asyncio.gather(
            *(http.get(DASHBOARD, headers={"Authorization": f"Bearer {token}"}) for _ in range(6))
        )
    assert [reply.status_code for reply in replies] == [200] * 6
