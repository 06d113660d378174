"""SQLite as the service runs it: safe for money, and one writer at a time per process.

The settings: WAL with synchronous=FULL (an acknowledged write is on disk), a busy
timeout instead of immediate lock errors, foreign keys on, and `BEGIN IMMEDIATE` so that
a write transaction takes the write lock up front instead of failing when it upgrades
from a read.

SQLite has one writer. Left to itself, a connection that finds the lock taken sleeps
in SQLite's busy handler (1, 2, 5, 10, ... 100 ms) and tries again: under 32 concurrent
spends some waited seconds while the lock sat free between sleeps (bench/sqlite.py,
docs/performance.md). So the process's own write transactions queue for it in arrival
order on an asyncio lock, taken before `BEGIN IMMEDIATE` and given back once the commit
or rollback is done; the busy handler is left only for other processes (a CLI command
beside `billing serve`).
"""

from __future__ import annotations

import asyncio
import contextlib
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_only

from billing.db.waiting import take_turn

BUSY_TIMEOUT_SECONDS = 10
BUSY = "The database is busy; retry shortly."
AUTOCOMMIT = "AUTOCOMMIT"
DRIVER = "billing_aiosqlite"
PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=FULL",
    f"busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}",
    "foreign_keys=ON",
)


# Set in a task whose writes can wait (the in-process worker): see `WriteQueue.take`.
background = ContextVar("billing_background_writes", default=False)
YIELD_SECONDS = 1.0  # the longest a background write lets others go first


class WriteQueue:
    """The process's turn to write: one connection holds it from its `BEGIN IMMEDIATE` to
    the end of that transaction; the others wait for it first come, first served.

    Except a background writer (`background`): while requests' writes wait for the turn,
    it lets them go first, for up to `YIELD_SECONDS` per transaction. Processing an event
    costs several times what acknowledging it does, and both share the process's one core
    and one turn: requests first keeps acknowledgements and spends fast in a burst, at
    the price of processing lag (bounded: the worker still gets a turn a second)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._holder: object | None = None
        self._waiting = 0  # foreground writers waiting for the turn
        self._none_waiting = asyncio.Event()
        self._none_waiting.set()

    async def take(self, connection: object) -> None:
        foreground = not background.get()
        if foreground:
            self._waiting += 1
            self._none_waiting.clear()
        else:  # let the requests' writes waiting now go first, for a while
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._none_waiting.wait(), YIELD_SECONDS)
        try:
            await take_turn(self._lock, BUSY_TIMEOUT_SECONDS, BUSY)
        finally:
            if foreground:
                self._waiting -= 1
                if not self._waiting:
                    self._none_waiting.set()
        self._holder = connection

    def give_back(self, connection: object) -> None:
        """`connection`'s transaction is over (or the connection is gone)."""
        if self._holder is connection:
            self._holder = None
            self._lock.release()


class SerializedSQLiteDialect(SQLiteDialect_aiosqlite):
    """aiosqlite, with the write turn given back once a commit or rollback has finished
    (SQLAlchemy's `commit`/`rollback` events come before the driver's call)."""

    driver = DRIVER
    supports_statement_cache = True  # compiles as its parent does

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.writes = WriteQueue()

    def do_commit(self, dbapi_connection: Any) -> None:
        try:
            super().do_commit(dbapi_connection)  # type: ignore[no-untyped-call]
        finally:
            self.writes.give_back(dbapi_connection.dbapi_connection)

    def do_rollback(self, dbapi_connection: Any) -> None:
        try:
            super().do_rollback(dbapi_connection)  # type: ignore[no-untyped-call]
        finally:
            self.writes.give_back(dbapi_connection.dbapi_connection)


registry.register(f"sqlite.{DRIVER}", __name__, SerializedSQLiteDialect.__name__)


def serialized_url(url: str) -> URL:
    """The service's SQLite URL, on the dialect above."""
    return make_url(url).set(drivername=f"sqlite+{DRIVER}")


def configure(engine: AsyncEngine) -> None:
    """The pragmas on every new connection; the write turn and `BEGIN IMMEDIATE` at every
    transaction's start, unless the connection is in autocommit (a single-statement read)."""
    dialect = engine.dialect
    assert isinstance(dialect, SerializedSQLiteDialect)
    writes = dialect.writes

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("isolation_level") == AUTOCOMMIT:
            return
        raw = connection.connection.dbapi_connection
        await_only(writes.take(raw))
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writes.give_back(raw)
            raise

    @event.listens_for(engine.sync_engine.pool, "invalidate")
    @event.listens_for(engine.sync_engine.pool, "close")
    def _on_gone(dbapi_connection: DBAPIConnection, *_: Any) -> None:
        writes.give_back(dbapi_connection)
