"""Statements every domain composes: dialect-aware upserts, insert-once, lock-and-reread."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Date,
    Select,
    Table,
    and_,
    bindparam,
    cast,
    except_,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import (
    AsyncSession,
)
from sqlalchemy.sql.dml import ReturningInsert

from billing.db.sqlite import AUTOCOMMIT
from billing.db.types import Base


def upsert(dialect_name: str, table: type[Base] | Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can take `ON CONFLICT` clauses, in the dialect at hand."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def utc_day(session: AsyncSession, column: Any) -> ColumnElement[date]:
    """The UTC calendar day of a timestamp (SQLite stores them as naive UTC text)."""
    return utc_day_in(session.get_bind().dialect.name, column)


def utc_day_in(dialect_name: str, column: Any) -> ColumnElement[date]:
    """`utc_day` for a statement built once per dialect."""
    if dialect_name == "postgresql":
        return cast(func.timezone(literal_column("'UTC'"), column), Date)
    return func.date(column, type_=Date)


Rows = Select[*tuple[Any, ...]]
Statement = TypeVar("Statement", Rows, CompoundSelect[*tuple[Any, ...]])


@dataclass(frozen=True, slots=True)
class Span:
    """`start <= column < end` in a statement built once: the bounds are bind parameters
    named after the span, and each call gives their values (`values`)."""

    name: str

    @property
    def start(self) -> BindParameter[Any]:
        return bindparam(f"{self.name}_start")

    @property
    def end(self) -> BindParameter[Any]:
        return bindparam(f"{self.name}_end")

    def holds(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.start, column < self.end)

    def values(self, start: Any, end: Any) -> dict[str, Any]:
        return {f"{self.name}_start": start, f"{self.name}_end": end}


@dataclass(frozen=True, slots=True)
class Parameterized(Generic[Statement]):
    """A statement built once, with bound parameters, and their values for one call:
    building a statement (and its cache key) costs more Python than a short one takes to
    run, and a statement built once keeps its cache key."""

    statement: Statement
    params: dict[str, Any]

    def bound(self) -> Statement:
        """The statement with the values in it, to compose into another. Values go by
        name: two of the same statement bound to different values would share one set."""
        return self.statement.params(self.params)


async def differing(session: AsyncSession, kept: Rows, computed: Rows, sample: int) -> list[Any]:
    """The first column of rows one of two queries returns and the other does not: what a
    stored summary and the same summary computed afresh disagree on, a sorted sample."""
    keys: set[Any] = set()
    for one, other in ((kept, computed), (computed, kept)):
        rows = except_(one, other).subquery()
        keys.update(await session.scalars(select(rows.c[0]).distinct().limit(sample)))
    return sorted(keys)[:sample]


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


async def read_without_transaction(session: AsyncSession) -> None:
    """Run the session's next statements outside a transaction: reads that take no
    lock on SQLite (whose BEGIN here is IMMEDIATE) and cost no BEGIN/COMMIT round trips
    on PostgreSQL. Call it before the session's first statement."""
    await session.connection(execution_options={"isolation_level": AUTOCOMMIT})


async def read_in_one_snapshot(session: AsyncSession) -> None:
    """Let the session's next statements all see one snapshot (PostgreSQL's REPEATABLE
    READ; SQLite's transaction is one already), so that concurrent writes cannot make
    reads of several tables disagree. Call it before the session's first statement."""
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


async def driver_connection_of(session: AsyncSession) -> Any:
    """The driver's own connection under the session (asyncpg's, or `sqlite_driver`'s), the
    session's transaction begun on it: a plain statement there is part of that transaction."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None, "a pooled connection has its driver's"
    return driver
