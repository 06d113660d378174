"""Reads that may be a little stale go to a streaming replica (`DATABASE_READ_URL`) while it
answers and is at most `DATABASE_READ_MAX_LAG_SECONDS` behind; else to the primary.

Which reads: the admin dashboard, exports, the audit and inbox listings and transaction
history. Balances, spends, holds, and whatever a caller reads right after writing, stay
on the primary: they take `Database` from `get_database`, never from here.

The replica's lag is looked up at most once per `CHECK_SECONDS` in a process, by one
request while the others wait for its answer, and for at most `CHECK_TIMEOUT` seconds:
a replica that does not answer in time counts as down until the next look.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Literal

from sqlalchemy import text
from starlette.requests import Request

from billing.core.config import Settings
from billing.db.engine import Database

CHECK_SECONDS = 1.0
CHECK_TIMEOUT = 1.0
# Seconds the replica's last replayed transaction is behind now; 0 when it has replayed
# all it received, or when the URL is not a standby at all. A standby without a WAL
# receiver has lost its primary: its lag is unknown (NULL). (The receiver's row shows to
# any role; its status only to those with pg_read_all_stats.)
LAG = text(
    """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN 0
        WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN NULL
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
        ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())
    END
    """
)

Reason = Literal["caught_up", "down", "lagging"]
# Told of each read routed: why it went where it went ("caught_up": to the replica), and
# the replica's last measured lag in seconds (None: unknown).
Routed = Callable[[Reason, float | None], None]


def _untold(reason: Reason, lag: float | None) -> None:
    """The default `Routed`: nobody listening."""


class Reads:
    """Where one process sends its reads that may be a little stale."""

    def __init__(self, primary: Database, settings: Settings, routed: Routed = _untold) -> None:
        self.primary = primary
        self.replica = _replica(settings)
        self.max_lag = settings.DATABASE_READ_MAX_LAG_SECONDS
        self.routed = routed
        self.lag: float | None = None
        self.clock: Callable[[], float] = time.monotonic  # replaceable in tests
        self._checked_at = -CHECK_SECONDS
        self._lock = asyncio.Lock()

    async def database(self) -> Database:
        """The replica if it may serve now, else the primary."""
        if self.replica is None:
            return self.primary
        reason = await self._reason()
        self.routed(reason, self.lag)
        return self.replica if reason == "caught_up" else self.primary

    async def _reason(self) -> Reason:
        async with self._lock:
            if self.clock() - self._checked_at >= CHECK_SECONDS:
                self.lag = await self._measure()
                self._checked_at = self.clock()
        if self.lag is None:
            return "down"
        return "caught_up" if self.lag <= self.max_lag else "lagging"

    async def _measure(self) -> float | None:
        assert self.replica is not None
        try:
            async with asyncio.timeout(CHECK_TIMEOUT), self.replica.autocommit() as connection:
                lag = await connection.scalar(LAG)
        except Exception:  # any failure to answer is the replica being down for reads
            return None
        return None if lag is None else float(lag)

    async def dispose(self) -> None:
        if self.replica is not None:
            await self.replica.dispose()


def _replica(settings: Settings) -> Database | None:
    if settings.DATABASE_READ_URL is None:
        return None
    update = {"DATABASE_URL": settings.DATABASE_READ_URL, "DATABASE_READ_URL": None}
    return Database(settings.model_copy(update=update))


async def get_read_database(request: Request) -> Database:
    """For a route's reads that may be a little stale (see the module's docstring)."""
    reads: Reads = request.app.state.reads
    return await reads.database()
