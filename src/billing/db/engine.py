"""Engine, sessions and the connection pool.

SQLite is the embedded default and PostgreSQL the production database; the
same models and migrations run on both. SQLite's settings, and its one writer at a
time, are in `sqlite.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import QueuePool
from starlette.requests import Request

from billing.core.config import Settings
from billing.core.errors import ServiceUnavailable
from billing.db import server_settings, sqlite, sqlite_driver
from billing.db.conflicts import DRIVER_DISCONNECTS
from billing.db.server_settings import LOW_BALANCE_THRESHOLD
from billing.db.sqlite import AUTOCOMMIT
from billing.db.waiting import take_turn

POOL_TIMEOUT_SECONDS = 10
AT_CAPACITY = "The service is at capacity; retry shortly."


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        url = sqlite.serialized_url(settings.DATABASE_URL)
        connect = partial(sqlite_driver.connect, url.database or ":memory:")
        engine = create_async_engine(url, async_creator=connect, hide_parameters=True)
        sqlite.configure(engine)
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
        connect_args=_connect_args(settings),
    )


def _connect_args(settings: Settings) -> dict[str, Any]:
    if not settings.DATABASE_PGBOUNCER:
        return {"server_settings": server_settings.startup_settings(settings)}
    # Transaction pooling: a statement prepared on one server connection is unknown on
    # the next. Unnamed statements are parsed again with each execution, in its round
    # trip: asyncpg's with its cache off, SQLAlchemy's when given the empty name.
    return {"statement_cache_size": 0, "prepared_statement_name_func": _unnamed}


def _unnamed() -> str:
    return ""


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

    async def any_row(self, *queries: Select[Any]) -> bool:
        """Whether any of `queries` finds a row: one read outside a transaction, so a job
        that looks for work while idle never takes SQLite's write lock."""
        found = select(or_(*(query.exists() for query in queries)))
        async with self.autocommit() as connection:
            return bool(await connection.scalar(found))

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
        await take_turn(self._gate, POOL_TIMEOUT_SECONDS, AT_CAPACITY)
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
