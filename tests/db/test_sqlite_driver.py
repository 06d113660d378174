"""The SQLite driver: a transaction's statements run on the loop's thread, at once; reads
outside one run in a worker thread, so a long one does not stop the loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlalchemy import event, text

from billing.db.engine import Database

# Counts to about ten million in SQLite: tenths of a second of one core.
LONG_READ = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000)
SELECT count(*) FROM n
"""


def name_threads(sqlite_database: Database) -> None:
    """`thread_name()` in SQL: the thread that runs the statement."""

    @event.listens_for(sqlite_database.engine.sync_engine, "connect")
    def _define(dbapi_connection: Any, _: object) -> None:
        dbapi_connection.create_function("thread_name", 0, lambda: threading.current_thread().name)


async def test_a_transaction_runs_on_the_loop_thread(sqlite_database: Database) -> None:
    name_threads(sqlite_database)
    async with sqlite_database.sessions() as session, session.begin():
        await session.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)"))
        inserted = await session.execute(text("INSERT INTO t (v) VALUES ('a'), ('b')"))
        assert inserted.rowcount == 2
        rows = await session.execute(text("SELECT n, v FROM t ORDER BY n"))
        assert rows.all() == [(1, "a"), (2, "b")]
        ran_on = await session.scalar(text("SELECT thread_name()"))
    assert ran_on == threading.current_thread().name


async def test_a_read_outside_a_transaction_runs_in_a_thread(sqlite_database: Database) -> None:
    name_threads(sqlite_database)
    async with sqlite_database.autocommit() as connection:
        ran_on = (await connection.execute(text("SELECT thread_name()"))).scalar()
    assert ran_on is not None
    assert ran_on.startswith("sqlite")
    assert ran_on != threading.current_thread().name


async def test_a_long_read_leaves_the_loop_serving(sqlite_database: Database) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    ticker = asyncio.create_task(tick())
    async with sqlite_database.autocommit() as connection:
        counted = (await connection.execute(text(LONG_READ))).scalar()
    ticker.cancel()
    assert counted == 3_000_000
    assert ticks > 10, "the loop stood still while SQLite counted"


async def test_rows_come_back_in_parts_and_a_closed_connection_says_so(
    sqlite_database: Database,
) -> None:
    async with sqlite_database.sessions() as session, session.begin():
        await session.execute(text("CREATE TABLE p (n INTEGER)"))
        await session.execute(text("INSERT INTO p VALUES (1), (2), (3)"))
    async with sqlite_database.engine.connect() as connection:
        result = await connection.stream(text("SELECT n FROM p ORDER BY n"))
        assert [row.n async for row in result] == [1, 2, 3]
    raw = await sqlite_database.engine.raw_connection()
    driver = raw.driver_connection
    raw.invalidate()
    with pytest.raises(Exception, match="closed"):
        await driver.cursor().execute("SELECT 1")  # type: ignore[union-attr]
