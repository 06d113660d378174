"""SQLite under SQLAlchemy's asyncio adapter, in place of aiosqlite: a transaction's
statements run at once on the event loop's thread; everything else in a worker thread.

aiosqlite sends every call (cursor, execute, fetch, close: three or four per statement)
to the connection's own thread and waits to be woken with the answer. A spend is eleven
statements, so some forty round trips between two threads, and on a small machine they
took most of its time (bench/sqlite.py, docs/performance.md). Inside a transaction the
connection holds the process's one write turn (`sqlite.WriteQueue`), nothing else writes,
and its statements are short and indexed: they run inline, as fast as SQLite runs them,
and the commit's fsync holds the loop for well under a millisecond. The `BEGIN` that
may wait for another process's write lock, and reads outside a transaction, which may be
long (a dashboard over a year), run in a thread, and the loop goes on serving meanwhile.

This is the part of aiosqlite's interface that SQLAlchemy's adapter calls.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import JSON
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement

from billing.db.statements import driver_connection_of
from billing.db.types import UTCDateTime

Result = TypeVar("Result")
THREADS = 4  # reads and BEGINs of several connections at once


class Connection:
    """One sqlite3 connection, in autocommit mode: transactions are the caller's BEGINs."""

    def __init__(self, raw: sqlite3.Connection, threads: ThreadPoolExecutor) -> None:
        self._conn = raw
        self._connection: sqlite3.Connection | None = raw  # None once closed
        self._threads = threads
        self._tx = _Inline()  # SQLAlchemy sets isolation_level through it

    async def run(self, call: Callable[..., Result], *args: Any) -> Result:
        """`call(*args)` inline inside a transaction, else in a worker thread."""
        if self._conn.in_transaction:
            return call(*args)
        return await asyncio.get_running_loop().run_in_executor(self._threads, partial(call, *args))

    def cursor(self) -> Cursor:
        return Cursor(self, self._conn.cursor())

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    async def commit(self) -> None:
        await self.run(self._conn.commit)

    async def rollback(self) -> None:
        await self.run(self._conn.rollback)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            await self.run(self._conn.close)

    def stop(self) -> None:
        """Close at once, from wherever (SQLAlchemy's terminate)."""
        self._connection = None
        self._conn.close()


class Cursor:
    """Rows are read in the same step as their statement: one trip to a thread, or none."""

    def __init__(self, connection: Connection, raw: sqlite3.Cursor) -> None:
        self._connection = connection
        self._cursor = raw
        self._rows: list[Any] = []

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        self._rows = await self._connection.run(self._execute, sql, parameters)
        return self

    def _execute(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        self._cursor.execute(sql, parameters)
        return self._cursor.fetchall() if self._cursor.description else []

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Cursor:
        await self._connection.run(self._cursor.executemany, sql, rows)
        self._rows = []
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = size or self.arraysize
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def close(self) -> None:
        self._rows = []
        self._cursor.close()


class _Inline:
    """aiosqlite's request queue, as SQLAlchemy's adapter uses it to set the isolation
    level: (future, function) pairs, run at once."""

    def put_nowait(self, request: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = request
        try:
            future.set_result(function())
        except Exception as exc:
            future.set_exception(exc)


_threads = ThreadPoolExecutor(THREADS, thread_name_prefix="sqlite")


async def connect(database: str) -> Connection:
    """A connection usable from any thread, one call at a time (SQLAlchemy's adapter
    serializes them; a connection is used by one session at once)."""
    loop = asyncio.get_running_loop()
    raw = await loop.run_in_executor(
        _threads, partial(sqlite3.connect, database, isolation_level=None, check_same_thread=False)
    )
    return Connection(raw, _threads)


# For statements compiled once and run on the sqlite3 connection itself (`compiled`).
DIALECT = SQLiteDialect_pysqlite(paramstyle="named")


def _processor(found: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    assert found is not None, "the type converts its values on SQLite"
    return found


# What the column types do to values on their way in (SQLite's own implementations of
# them, as SQLAlchemy adapts them), done by hand for plain statements: a time must be
# stored as the text every other write stores, or comparisons of times go wrong.
bind_time = _processor(UTCDateTime().dialect_impl(DIALECT).bind_processor(DIALECT))
bind_json = _processor(JSON().dialect_impl(DIALECT).bind_processor(DIALECT))


def read_time(stored: str) -> datetime:
    """A time as SQLite holds it: naive UTC text."""
    return datetime.fromisoformat(stored).replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Compiled:
    """A statement's SQL and the values it binds by itself (its literals)."""

    sql: str
    literals: dict[str, Any]

    def run(self, connection: sqlite3.Connection, **values: Any) -> sqlite3.Cursor:
        return connection.execute(self.sql, {**self.literals, **values})

    def run_many(self, connection: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
        connection.executemany(self.sql, [{**self.literals, **row} for row in rows])


def compiled(statement: ClauseElement) -> Compiled:
    """`statement` for sqlite3 with named parameters. Values that need the column type's
    conversion (times, JSON) are the caller's to convert."""
    found = statement.compile(dialect=DIALECT)
    return Compiled(found.string, dict(found.params))


async def sqlite3_connection(session: AsyncSession) -> sqlite3.Connection:
    """The sqlite3 connection under the session, its transaction begun and what the
    session holds flushed: raw statements see the session's writes, and it theirs."""
    await session.flush()
    driver = await driver_connection_of(session)
    assert isinstance(driver, Connection), "a SQLite session on this module's driver"
    return driver._conn
