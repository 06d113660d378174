"""Engine, sessions and column types shared by every domain.

SQLite is the embedded default and PostgreSQL the production database; the
same models and migrations run on both. SQLite gets the settings that make it
safe for money: WAL with synchronous=FULL (an acknowledged write is on disk),
a busy timeout instead of immediate lock errors, foreign keys on, and
`BEGIN IMMEDIATE` so that a write transaction takes the write lock up front
instead of failing when it upgrades from a read.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Integer,
    MetaData,
    Select,
    Table,
    event,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.types import TypeDecorator
from starlette.requests import Request

from billing.config import Settings
from billing.errors import DRIVER_DISCONNECTS, ServiceUnavailable

SQLITE_BUSY_TIMEOUT_MS = 10_000
AUTOCOMMIT = "AUTOCOMMIT"
POOL_TIMEOUT_SECONDS = 10
CONFLICT_SQLSTATES = ("40001", "40P01")  # serialization_failure, deadlock_detected

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY, so 64-bit ids use INTEGER there.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")
JSONDocument = JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both databases (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    __table__: ClassVar[Table]  # every model maps one table


def utcnow() -> datetime:
    return datetime.now(UTC)


def lost_a_conflict(exc: BaseException) -> bool:
    """A deadlock or serialization failure: PostgreSQL rolled the transaction back to
    break a conflict with another one, so running it again may well succeed. Seen
    through SQLAlchemy's wrapping (`orig`) or raised by the driver itself."""
    error: BaseException | None = exc
    for _ in range(4):
        if error is None:
            return False
        if getattr(error, "sqlstate", None) in CONFLICT_SQLSTATES:
            return True
        error = getattr(error, "orig", None) or error.__cause__
    return False


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
        connect_args={"server_settings": {"synchronous_commit": "on", "jit": "off"}},
    )


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


def upsert(dialect_name: str, table: type[Base] | Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can take `ON CONFLICT` clauses, in the dialect at hand."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


Model = TypeVar("Model", bound=Base)


async def insert_new(
    session: AsyncSession, model: type[Base], key: str, values: dict[str, Any]
) -> bool:
    """Insert a row from `values` unless one with the same unique `key` exists; whether
    it did. A core statement on the table with bound parameters: no ORM object is built
    and the compiled statement is reused, for paths where rows are mostly new."""
    statement = _insert_new_statement(session.get_bind().dialect.name, model.__table__, key)
    return (await session.execute(statement, values)).first() is not None


@functools.cache
def _insert_new_statement(dialect_name: str, table: Table, key: str) -> ReturningInsert[Any]:
    """Built once: building it (and its cache key) per row cost more than running it."""
    return (
        upsert(dialect_name, table)
        .on_conflict_do_nothing(index_elements=[key])
        .returning(table.c[key])
    )


Query = TypeVar("Query", bound=Select[Any])


def locked(query: Query) -> Query:
    """`query` locking its rows for update and re-reading them: a copy the session read
    earlier would otherwise stand, hiding what another transaction committed while this
    one waited for the lock."""
    return query.with_for_update().execution_options(populate_existing=True)


async def lock_by(session: AsyncSession, model: type[Model], key: str, value: object) -> Model:
    """The row whose unique column `key` holds `value`, locked for update and re-read."""
    row = await session.scalar(locked(select(model).where(getattr(model, key) == value)))
    assert row is not None, f"no {model.__name__} with {key}={value!r}"
    return row


async def insert_or_lock(
    session: AsyncSession, model: type[Model], key: str, values: dict[str, Any]
) -> tuple[Model, bool]:
    """The row whose unique column `key` holds `values[key]`, locked for update: inserted
    from `values` when there is none (then True), else the stored one, re-read. Two
    concurrent writers of one row take turns on its lock instead of failing or losing."""
    inserted = await session.scalar(
        upsert(session.get_bind().dialect.name, model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[key])
        .returning(model)
    )
    if inserted is not None:
        return inserted, True
    return await lock_by(session, model, key, values[key]), False


class Database:
    """The engine and session factory one application instance uses."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
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

        Measured on the webhook route, a session and a SQLAlchemy Connection around the
        statement cost a quarter of its CPU. Safe outside a greenlet: the raw connection never
        starts a transaction through SQLAlchemy, so returning it to the pool runs no statement
        (and an invalidated one is closed). Arrival order matters because SQLAlchemy's async
        pool hands a returned connection to whoever asks next, ahead of those already
        waiting: under load some deliveries starved for seconds while others went through.
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


async def read_without_transaction(session: AsyncSession) -> None:
    """Run the session's next statements outside a transaction: reads that take no
    lock on SQLite (whose BEGIN here is IMMEDIATE) and cost no BEGIN/COMMIT round trips
    on PostgreSQL. Call it before the session's first statement."""
    await session.connection(execution_options={"isolation_level": AUTOCOMMIT})


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database
