"""Credit totals per kind: settled days are summed once and remembered, later days are read
every time, and either way the totals are the ledger's."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from billing.core.times import utcnow
from billing.credits.accounts import PURCHASE, SPEND
from billing.db.engine import Database
from billing.db.statements import read_without_transaction
from billing.reporting.dashboard.ledger import LedgerDays
from billing.reporting.dashboard.repository import Window
from tests.reporting.dashboard.test_service import post, post_ledger

# post_ledger's totals, all posted today.
TODAY_TOTALS = {
    "purchase": 6500,
    "spend": 6000,
    "expiry": 500,
    "subscription_grant": 3000,
    "refund_clawback": 400,
    "dispute_reinstatement": 100,
    "subscription_clawback": 100,
    "admin_grant": 1000,
}


def days_from_today(first: int, last: int) -> Window:
    """Midnight of today + `first` days up to the midnight after today + `last` days."""
    today = datetime.combine(utcnow().date(), time(), UTC)
    return Window(today + timedelta(days=first), today + timedelta(days=last + 1))


async def totals(
    database: Database, days: LedgerDays, window: Window, now: datetime
) -> dict[str, int]:
    async with database.sessions() as session:
        await read_without_transaction(session)
        return await days.totals(session, window, now)


async def test_totals_are_the_ledgers_whichever_days_are_settled(database: Database) -> None:
    await post_ledger(database)
    now = utcnow()
    for settled_by in (now, now + timedelta(days=3)):  # today is not settled, then it is
        days = LedgerDays()
        assert await totals(database, days, days_from_today(-5, 0), settled_by) == TODAY_TOTALS
        assert await totals(database, days, days_from_today(0, 0), settled_by) == TODAY_TOTALS
        assert await totals(database, days, days_from_today(-9, -1), settled_by) == {}
        assert await totals(database, days, days_from_today(1, 2), settled_by) == {}
        assert await totals(database, days, days_from_today(-2, 5), settled_by) == TODAY_TOTALS


async def test_settled_days_are_read_once_and_later_days_every_time(database: Database) -> None:
    await post(database, 201, PURCHASE, 1000)
    days, today = LedgerDays(), days_from_today(0, 0)
    settled = utcnow() + timedelta(days=2)  # as if today ended two days ago
    assert await totals(database, days, today, settled) == {"purchase": 1000}
    await post(database, 201, SPEND, 300)
    # Remembered: the spend that a settled day could never receive is not read.
    assert await totals(database, days, today, settled) == {"purchase": 1000}
    # Not settled yet: read afresh.
    assert await totals(database, days, today, utcnow()) == {"purchase": 1000, "spend": 300}
