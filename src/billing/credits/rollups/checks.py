"""`billing verify-ledger`'s proof that the rollups equal the ledger: each stored summary
against the same summary computed from the ledger's rows, both ways."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.rollups.jobs import DAY, DAY_TOTALS, EPOCH, built_windows
from billing.credits.rollups.models import CreditDayTotal, CreditSpendWindow
from billing.credits.rollups.queries import Days, kinds_by_day, spent_by_user, summarized_through
from billing.db.statements import differing

DAYS_CHECK = "every summarized day holds the credits each kind moved that day"
WINDOWS_CHECK = "every spend window holds what each user spent in its days"
SAMPLE = 10


async def rollup_failures(session: AsyncSession) -> dict[str, list[int]]:
    """Each failed check with a sample of what differs: days as YYYYMMDD, else user ids."""
    through = await summarized_through(session)
    failures: dict[str, list[int]] = {}
    if DAY_TOTALS in through:
        days = Days(EPOCH, through[DAY_TOTALS] + DAY)
        computed = kinds_by_day(session.get_bind().dialect.name, days).bound().subquery()
        totals = select(CreditDayTotal.day, CreditDayTotal.kind, CreditDayTotal.amount)
        wrong: list[date] = await differing(session, totals, select(computed), SAMPLE)
        if wrong:
            failures[DAYS_CHECK] = [int(day.strftime("%Y%m%d")) for day in wrong]
    users: set[int] = set()
    for size, days in built_windows(through):
        kept = select(CreditSpendWindow.user_id, CreditSpendWindow.spent).where(
            CreditSpendWindow.days == size
        )
        users.update(await differing(session, kept, spent_by_user([days]).bound(), SAMPLE))
    if users:
        failures[WINDOWS_CHECK] = sorted(users)[:SAMPLE]
    return failures
