"""Every text value in the database, for tests that prove a value is stored nowhere.

The columns come from the database's own catalog (`information_schema` on PostgreSQL,
`pragma table_info` on SQLite), not from the models: a table or column added later, or
one no model maps (a migration's), is searched too without anyone listing it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.engine import Database

# PostgreSQL's names for the types that hold text (`information_schema.columns.data_type`),
# with bytea: a stored HTTP response body (`idempotency_keys`) is text in bytes.
POSTGRES_TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb", "bytea")
# SQLite's text affinity (CHAR, CLOB, TEXT), JSON and BLOB columns, and untyped ones.
SQLITE_TEXT_TYPE = re.compile(r"^$|CHAR|CLOB|TEXT|JSON|BLOB", re.IGNORECASE)

POSTGRES_COLUMNS = text(
    "SELECT table_name, column_name FROM information_schema.columns"
    " WHERE table_schema = current_schema() AND data_type = ANY(:types)"
    " ORDER BY table_name, ordinal_position"
)
SQLITE_TABLES = text(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
)


async def text_columns(database: Database) -> list[tuple[str, str]]:
    """(table, column) of every text, varchar, JSON or binary column of every table."""
    async with database.autocommit() as connection:
        if database.dialect == "postgresql":
            rows = await connection.execute(POSTGRES_COLUMNS, {"types": list(POSTGRES_TEXT_TYPES)})
            return [(str(table), str(column)) for table, column in rows]
        return await _sqlite_text_columns(connection)


async def _sqlite_text_columns(connection: AsyncConnection) -> list[tuple[str, str]]:
    found = []
    for table in (await connection.scalars(SQLITE_TABLES)).all():
        info = await connection.exec_driver_sql(f'PRAGMA table_info("{table}")')
        # (cid, name, type, notnull, default, pk)
        found += [(table, row[1]) for row in info if SQLITE_TEXT_TYPE.search(row[2] or "")]
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)  # a JSON document the driver decoded


async def occurrences(database: Database, *needles: str) -> list[str]:
    """`table.column: value` for each stored value that contains one of `needles`
    (ignoring case); empty when none does."""
    wanted = [needle.lower() for needle in needles]
    assert all(wanted), "an empty needle would match everything"
    hits, columns = [], await text_columns(database)
    async with database.autocommit() as connection:
        for table, column in columns:
            query = f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL'  # noqa: S608
            for value in map(_as_text, (await connection.scalars(text(query))).all()):
                if any(needle in value.lower() for needle in wanted):
                    hits.append(f"{table}.{column}: {value[:300]}")
    return hits
