"""Several read-only queries at once, all seeing the same committed data.

On PostgreSQL each reader gets a connection of its own in a read-only REPEATABLE READ
transaction, and all of them import one exported snapshot (`pg_export_snapshot`): they
run in parallel yet agree with each other as if they were one statement. The first
reader's connection holds the snapshot while the others take theirs from the pool, so one
such read runs at a time per process (two waiting on each other's connections could
exhaust the pool), and with a pool of one connection the readers run in turn on it.
SQLite runs them in turn outside a transaction, as its transactions take the write lock.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from billing.db.engine import Database
from billing.db.statements import driver_connection_of, read_without_transaction

Reader = Callable[[AsyncSession], Awaitable[Any]]

# Aggregates over a year of rows hash and sort in memory rather than spill to disk; and
# no reader asks for parallel workers: the readers already run in parallel, and a query's
# workers would only compete with the other readers for the same cores. Each query is
# planned for its own values: a generic plan chose sequential scans where an index finds
# the few rows of a range (a subscription dated after it, the days of a short range).
REPORT_SETTINGS = {
    "work_mem": "64MB",
    "max_parallel_workers_per_gather": "0",
    "plan_cache_mode": "force_custom_plan",
}
EXPORT_SNAPSHOT = text("SELECT pg_export_snapshot()")
SNAPSHOT_ID = re.compile(r"[0-9A-F]+(-[0-9A-F]+)+")
BY_HAND = {"isolation_level": "AUTOCOMMIT"}  # the transaction is `_reading`'s
_one_at_a_time: WeakKeyDictionary[Database, asyncio.Lock] = WeakKeyDictionary()


async def read_together(database: Database, readers: Sequence[Reader]) -> list[Any]:
    """Each reader's result, in order."""
    if database.dialect != "postgresql":
        async with database.sessions() as session:
            await read_without_transaction(session)
            return [await reader(session) for reader in readers]
    async with _one_at_a_time.setdefault(database, asyncio.Lock()):
        return await _in_parallel(database, readers)


async def _in_parallel(database: Database, readers: Sequence[Reader]) -> list[Any]:
    first, *others = readers
    async with _reading(database, snapshot=None) as leader:
        if database.engine.pool.size() < 2:  # type: ignore[attr-defined]
            return [await reader(leader) for reader in readers]
        snapshot = str(await leader.scalar(EXPORT_SNAPSHOT))
        # The leader's transaction stays open until every other reader has finished, failed
        # or not: none is left running on a connection the leader rolls back, or on one
        # taken from the pool after this read has let the next one start.
        results = await asyncio.gather(
            first(leader),
            *(_follow(database, snapshot, reader) for reader in others),
            return_exceptions=True,
        )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)


async def _follow(database: Database, snapshot: str, reader: Reader) -> Any:
    async with _reading(database, snapshot) as session:
        return await reader(session)


@asynccontextmanager
async def _reading(database: Database, snapshot: str | None) -> AsyncIterator[AsyncSession]:
    """A session in a read-only REPEATABLE READ transaction (of `snapshot` if given) with
    the report's settings, begun in one round trip and rolled back after.

    Begun by hand, on a connection SQLAlchemy holds in autocommit: its own BEGIN, the
    snapshot (a new text each time, which SQLAlchemy would prepare anew) and the settings
    were four round trips per reader. A connection whose transaction could not be
    rolled back is thrown away, never pooled inside it."""
    async with database.sessions() as session:
        connection = await session.connection(execution_options=BY_HAND)
        driver = await driver_connection_of(session)
        try:
            await driver.execute(_begin(snapshot))  # a failed step leaves it open: rolled back
            yield session
        finally:
            await _end(connection, driver)


def _begin(snapshot: str | None) -> str:
    statements = ["BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"]
    if snapshot is not None:
        if not SNAPSHOT_ID.fullmatch(snapshot):
            raise ValueError(f"unexpected snapshot id {snapshot!r}")
        # SET takes no bind parameters; the id is PostgreSQL's own, checked above.
        statements.append(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
    settings = ", ".join(
        f"set_config('{name}', '{value}', true)" for name, value in REPORT_SETTINGS.items()
    )
    return "; ".join([*statements, f"SELECT {settings}"])  # SET LOCAL


async def _end(connection: AsyncConnection, driver: Any) -> None:
    """Roll back; a connection that could not be is thrown away (and a cancellation that
    came meanwhile goes on once it is)."""
    try:
        await driver.execute("ROLLBACK")
    except asyncio.CancelledError:
        await connection.invalidate()
        raise
    except Exception:  # a lost connection, or a query cancelled mid-way still in flight
        await connection.invalidate()
        return
    if driver.is_in_transaction():
        await connection.invalidate()
