"""Reads that may be a little stale go to a streaming replica (`DATABASE_READ_URL`) while it
answers and is at most `DATABASE_READ_MAX_LAG_SECONDS` behind; else to the primary.

Which reads: the admin dashboard, exports, the audit and inbox listings and transaction
history (which may therefore trail a spend by up to the bound: a caller that wants to
know whether a spend landed retries it with its key). Balances, spends, holds, one
inbox event's detail, and whatever a caller reads right after writing, stay on the
primary: they take `Database` from `get_database`, never from here.

Caught up means replayed up to the position the primary's WAL had a moment before: a
replica whose stream stalled, without noticing yet, is behind by that measure too.

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
# Where the primary's WAL ends now: the replica is caught up once it has replayed that far.
PRIMARY_POSITION = text("SELECT pg_current_wal_lsn()")
# Seconds the replica is behind: 0 once it has replayed up to the primary's position
# (read just before), else the age of its last replayed transaction (infinite if none
# yet). A server that is not a standby (promoted, or the wrong URL) may have diverged:
# its lag is unknown (NULL), and it serves nothing.
LAG = text(
    """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN NULL
        WHEN pg_last_wal_replay_lsn() >= :primary THEN 0
        ELSE coalesce(
            extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()),
            'Infinity'
        )
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
            async with asyncio.timeout(CHECK_TIMEOUT):
                async with self.primary.autocommit() as connection:
                    position = await connection.scalar(PRIMARY_POSITION)
                async with self.replica.autocommit() as connection:
                    lag = await connection.scalar(LAG, {"primary": position})
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
