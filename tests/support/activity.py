"""What PostgreSQL's sessions on a test's database are doing (`pg_stat_activity`)."""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy import make_url, text

from billing.db.engine import Database

IDLE_IN_TRANSACTION = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
)
WAITING_FOR_A_LOCK = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def idle_in_transaction(database_url: str) -> int:
    """Sessions idle inside a transaction, seen from a connection of its own (not one of
    the pool's, which might be one of them)."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval(IDLE_IN_TRANSACTION))
    finally:
        await connection.close()


async def until_waiting_for_a_lock(database: Database, what: str) -> None:
    """Until a session waits for a lock (SQLite: half a second for its database's lock);
    `what` says in the failure which wait never came."""
    if database.dialect == "sqlite":
        await asyncio.sleep(0.5)
        return
    for _ in range(200):
        async with database.autocommit() as connection:
            if await connection.scalar(WAITING_FOR_A_LOCK):
                return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{what} never waited for a lock")
