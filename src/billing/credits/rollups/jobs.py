"""Bringing the rollups up to the last settled day: the worker's `ledger_rollups` job.

Each rollup advances in a transaction of its own, claimed by moving its `through` from
the value it read: of two workers, the second finds it moved and leaves it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from functools import partial

from sqlalchemy import delete, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.times import utcnow
from billing.credits.rollups.models import CreditDayTotal, CreditRollup, CreditSpendWindow
from billing.credits.rollups.queries import Days, kinds_by_day, spent_by_user
from billing.db.engine import Database
from billing.db.statements import upsert

INTERVAL = 900.0  # seconds between runs; a day closes once a day
DAY = timedelta(days=1)
# Far longer than any transaction stays open between stamping its rows and committing,
# and than the clocks of the processes that stamp them disagree.
SETTLED_AFTER = timedelta(hours=1)
EPOCH = date(1970, 1, 1)
DAY_TOTALS = "days"
# Spend windows kept, in days: the dashboard's usual ranges end today and span these.
WINDOWS = (7, 30, 90, 365)

Step = Callable[[AsyncSession, date | None, date], Awaitable[None]]


def window_rollup(days: int) -> str:
    return f"spent:{days}"


def last_settled_day(now: datetime) -> date:
    """The last UTC day that ended more than `SETTLED_AFTER` ago."""
    return (now - SETTLED_AFTER).date() - DAY


def window_days(days: int, through: date) -> Days:
    """The `days` days ending on `through`."""
    return Days(through - (days - 1) * DAY, through + DAY)


def built_windows(through: dict[str, date]) -> list[tuple[int, Days]]:
    """(size, days) of each spend window built so far, from `summarized_through`."""
    return [
        (days, window_days(days, through[window_rollup(days)]))
        for days in WINDOWS
        if window_rollup(days) in through
    ]


async def roll_up(database: Database) -> None:
    """Summarize every day settled since each rollup's `through`."""
    through = last_settled_day(utcnow())
    await _advance(database, DAY_TOTALS, through, _add_days)
    for days in WINDOWS:
        await _advance(database, window_rollup(days), through, partial(_slide, days))


async def _advance(database: Database, name: str, through: date, step: Step) -> None:
    async with database.sessions() as session, session.begin():
        statement = upsert(session.get_bind().dialect.name, CreditRollup)
        await session.execute(statement.values(name=name).on_conflict_do_nothing())
        query = select(CreditRollup.through).where(CreditRollup.name == name)
        since = await session.scalar(query)
        if since is not None and since >= through:
            return
        unchanged = (
            CreditRollup.through.is_(None) if since is None else CreditRollup.through == since
        )
        claim = update(CreditRollup).where(CreditRollup.name == name, unchanged)
        claimed = claim.values(through=through).returning(CreditRollup.name)
        if await session.scalar(claimed) is not None:
            await step(session, since, through)


async def _add_days(session: AsyncSession, since: date | None, through: date) -> None:
    """Sum the days after `since`; all of them afresh when never built (or deleted)."""
    if since is None:
        await session.execute(delete(CreditDayTotal))
    days = Days(since + DAY if since else EPOCH, through + DAY)
    sums = kinds_by_day(session.get_bind().dialect.name, days).bound()
    await session.execute(insert(CreditDayTotal).from_select(["day", "kind", "amount"], sums))


async def _slide(days: int, session: AsyncSession, since: date | None, through: date) -> None:
    """Move the window from ending on `since` to ending on `through`: add the days that
    entered it, take away those that left; built afresh when none are shared."""
    new = window_days(days, through)
    rows = CreditSpendWindow.days == days
    if since is None or (through - since).days >= days:
        await session.execute(delete(CreditSpendWindow).where(rows))
        spent = spent_by_user([new])
    else:
        old = window_days(days, since)
        spent = spent_by_user(new.minus(old), old.minus(new))
    moved = spent.bound().subquery()
    change = select(literal(days), moved.c.user_id, moved.c.spent).where(moved.c.spent != 0)
    statement = upsert(session.get_bind().dialect.name, CreditSpendWindow).from_select(
        ["days", "user_id", "spent"], change
    )
    stored = CreditSpendWindow.spent
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["days", "user_id"], set_={"spent": stored + statement.excluded.spent}
        )
    )
    await session.execute(delete(CreditSpendWindow).where(rows, stored == 0))
