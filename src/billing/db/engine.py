"""Engine, sessions and the connection pool.

SQLite is the embedded default and PostgreSQL the production database; the
same models and migrations run on both. SQLite gets the settings that make it
safe for money: WAL with synchronous=FULL (an acknowledged write is on disk),
a busy timeout instead of immediate lock errors, foreign keys on, and
`BEGIN IMMEDIATE` so that a write transaction takes the write lock up front
instead of failing when it upgrades from a read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import (
    event,
)
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from starlette.requests import Request

from billing.core.config import Settings
from billing.core.errors import ServiceUnavailable
from billing.db.conflicts import DRIVER_DISCONNECTS

SQLITE_BUSY_TIMEOUT_MS = 10_000

AUTOCOMMIT = "AUTOCOMMIT"

POOL_TIMEOUT_SECONDS = 10
# The default low-balance threshold: a setting of every PostgreSQL connection (the
# wallet trigger reads it) and of every session (`credits.watch` reads it on SQLite).
LOW_BALANCE_THRESHOLD = "billing.low_balance_threshold"


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        engine = create_async_engine(settings.DATABASE_URL, hide_parameters=True)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        settings.DATABASE_URL,
        # A fixed pool: a request waits briefly for a connection rather than opening
        # (and closing) an overflow one, which costs PostgreSQL a fork per request.
        pool_size=settings.DATABASE_POOL_SIZE,
        max_overflow=0,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        hide_parameters=True,  # bound values (descriptions, metadata) stay out of logs
        pool_recycle=1800,
        connect_args={"server_settings": _server_settings(settings)},
    )


def _server_settings(settings: Settings) -> dict[str, str]:
    """Set on every connection; `billing.*` are read by the database's own functions."""
    found = {"synchronous_commit": "on", "jit": "off"}
    if settings.BILLING_LOW_BALANCE_THRESHOLD is not None:
        found[LOW_BALANCE_THRESHOLD] = str(settings.BILLING_LOW_BALANCE_THRESHOLD)
    return found


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "foreign_keys=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("isolation_level") != AUTOCOMMIT:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine and session factory one application instance uses."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.sessions = async_sessionmaker(
            self.engine,
            expire_on_commit=False,
            info={LOW_BALANCE_THRESHOLD: settings.BILLING_LOW_BALANCE_THRESHOLD},
        )
        pool = self.engine.pool
        # A first-come-first-served queue in front of the pool, one place per connection.
        self._gate = asyncio.Semaphore(pool.size() if isinstance(pool, QueuePool) else 1)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection without a transaction, for single-statement reads: one round trip."""
        async with self.engine.connect() as connection:
            yield await connection.execution_options(isolation_level=AUTOCOMMIT)

    @asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[Any]:
        """The driver's own pooled connection (asyncpg's), outside any transaction, taken in
        arrival order: for the single-statement hot paths (a spend, a webhook delivery).

        On the webhook route, a session and a SQLAlchemy Connection around the statement
        cost a large share of its CPU (docs/performance.md). Safe outside a greenlet: the raw
        connection never starts a transaction through SQLAlchemy, so returning it to the pool
        runs no statement (and an invalidated one is closed). Arrival order matters because
        SQLAlchemy's async pool hands a returned connection to whoever asks next, ahead of
        those already waiting: under load some deliveries starved for seconds while others
        went through.
        """
        wait = POOL_TIMEOUT_SECONDS if self._gate.locked() else None  # free: no timer to set
        try:
            async with asyncio.timeout(wait):
                await self._gate.acquire()
        except TimeoutError as exc:
            raise ServiceUnavailable("The service is at capacity; retry shortly.") from exc
        try:
            pooled = await self.engine.raw_connection()
            try:
                yield pooled.driver_connection
            except DRIVER_DISCONNECTS as exc:
                pooled.invalidate(exc)
                raise ServiceUnavailable("The database connection was lost; retry.") from exc
            finally:
                pooled.close()
        finally:
            self._gate.release()

    async def dispose(self) -> None:
        await self.engine.dispose()


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database
