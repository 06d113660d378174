"""Credits moved per transaction kind over a window, remembering the settled past.

Ledger transactions are immutable and stamped as they are written, so a UTC day that
ended more than `SETTLED_AFTER` ago (far longer than any transaction stays open) never
changes again: its totals are summed once per process and remembered, and a request
reads only the days after the last settled one. A process starts with nothing
remembered, so its first dashboard over a long range sums those days once.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncSession

from billing.db.engine import Database
from billing.reporting.dashboard.repository import (
    Window,
    ledger_by_day,
    promotional_expiry_by_day,
)

SETTLED_AFTER = timedelta(days=1)
DAY = timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


async def _rows(session: AsyncSession, window: Window) -> list[tuple[date, str, int]]:
    """Credits per day and kind, and per day the promotional part of the expiries."""
    return [
        *await ledger_by_day(session, window),
        *await promotional_expiry_by_day(session, window),
    ]


def _days(first: date, end: date) -> list[date]:
    """Every day from `first` up to, not including, `end`."""
    return [first + timedelta(days=n) for n in range((end - first).days)]


class LedgerDays:
    """One database's settled days: day -> kind (or `PROMOTIONAL_EXPIRY`) -> credits."""

    def __init__(self) -> None:
        self._settled: dict[date, dict[str, int]] = {}

    async def totals(self, session: AsyncSession, window: Window, now: datetime) -> dict[str, int]:
        """Credits per kind in `window`, whose bounds are UTC midnights."""
        settled_end = min(window.end, _midnight((now - SETTLED_AFTER).date()))
        totals: Counter[str] = Counter()
        if window.start < settled_end:
            days = _days(window.start.date(), settled_end.date())
            missing = [day for day in days if day not in self._settled]
            if missing:
                await self._remember(session, missing[0], missing[-1] + DAY)
            for day in days:
                totals.update(self._settled[day])
        live = Window(max(window.start, settled_end), window.end)
        if live.start < live.end:
            for _, kind, amount in await _rows(session, live):
                totals[kind] += amount
        return dict(totals)

    async def _remember(self, session: AsyncSession, first: date, end: date) -> None:
        by_day: dict[date, dict[str, int]] = {day: {} for day in _days(first, end)}
        span = Window(_midnight(first), _midnight(end))
        for day, kind, amount in await _rows(session, span):
            by_day[day][kind] = amount
        self._settled.update(by_day)


_remembered: WeakKeyDictionary[Database, LedgerDays] = WeakKeyDictionary()


def ledger_days(database: Database) -> LedgerDays:
    """The settled days remembered for this database (one `Database` per app)."""
    return _remembered.setdefault(database, LedgerDays())
