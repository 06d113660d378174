"""Another connection's open transaction on the test PostgreSQL: it holds locks (a
wallet's row, an uncommitted inbox row) so that a test decides when writers may go on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from billing.db.engine import Database
from tests.support.pgbouncer import settings_for


class Holder:
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def lock_wallet(self, user: int) -> None:
        await self.connection.execute(
            "SELECT 1 FROM credit_accounts WHERE user_id = $1 FOR UPDATE", user
        )

    async def a_writer_waits(self) -> None:
        """Until some other transaction waits for a lock (this one's, in these tests)."""
        for _ in range(500):
            if await self.connection.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("no writer ever waited for a lock")


@asynccontextmanager
async def another_transaction(database: Database) -> AsyncIterator[Holder]:
    """A transaction on a connection of its own, committed when the block ends."""
    url = database.engine.url.render_as_string(hide_password=False)
    other = Database(settings_for(url))
    try:
        async with other.driver_connection() as connection, connection.transaction():
            yield Holder(connection)
    finally:
        await other.dispose()
