"""Credits moved per transaction kind over a window, and the biggest spenders in it, read
from the ledger's closed-day summaries (`credits.rollups`) as far as they go and from the
ledger's rows after that.

Top spenders come from the stored spend window nearest the range asked for: a user's
credits in the range are the window's, plus what they spent on the range's days outside
it, less what they spent on the window's days outside the range. Every user with such
days is summed exactly; of the others, whose credits are the window's, only the biggest
`limit` can place, and the window's index yields those first.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    BindParameter,
    Integer,
    Select,
    bindparam,
    case,
    exists,
    func,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.rollups.jobs import DAY, DAY_TOTALS, EPOCH, built_windows, window_rollup
from billing.credits.rollups.models import CreditDayTotal, CreditSpendWindow
from billing.credits.rollups.queries import (
    HELD_NET,
    PROMOTIONAL_NET,
    WALLETS_NET,
    Days,
    kinds_by_day,
    runs_given,
    spent_by_user_in,
    summarized_through,
)
from billing.db.statements import Span
from billing.reporting.dashboard.repository import Window

DIFFERENCE_COST = 3
NETS = (WALLETS_NET, HELD_NET, PROMOTIONAL_NET)


def _days(window: Window) -> Days:
    """A window's whole UTC days (its bounds are midnights)."""
    return Days(window.start.date(), window.end.date())


@dataclass(frozen=True, slots=True)
class LedgerSums:
    """Credits per kind (and `PROMOTIONAL_EXPIRY` and the `*_NET` sums) moved on the
    window's days; and the `*_NET` sums of every day before `until`."""

    in_window: dict[str, int]
    net_before: dict[str, int]


WANTED = Span("wanted")  # the range's days


def _summed_days() -> Select[str, int, int]:
    day, kind, amount = CreditDayTotal.day, CreditDayTotal.kind, CreditDayTotal.amount
    in_window = WANTED.holds(day)
    return (
        select(
            kind,
            func.sum(case((in_window, amount), else_=0)),
            func.sum(case((day < bindparam("until"), amount), else_=0)),
        )
        .where(day <= bindparam("through"), in_window | kind.in_(NETS))
        .group_by(kind)
    )


SUMMED_DAYS = _summed_days()


async def ledger_sums(session: AsyncSession, window: Window, until: date) -> LedgerSums:
    """Both from one read of the summaries and one of the rows after them."""
    wanted, inside, before = _days(window), Counter[str](), Counter[str]()
    through = (await summarized_through(session)).get(DAY_TOTALS)
    if through is not None:
        days = {**WANTED.values(wanted.first, wanted.end), "until": until, "through": through}
        for name, in_range, earlier in await session.execute(SUMMED_DAYS, days):
            inside[name] = int(in_range)
            if name in NETS:
                before[name] = int(earlier)
    live = Days(through + DAY if through else EPOCH, max(wanted.end, until))
    if live.count:
        sums = kinds_by_day(session.get_bind().dialect.name, live)
        for day_of, name, moved in await session.execute(sums.statement, sums.params):
            if wanted.first <= day_of < wanted.end:
                inside[name] += int(moved)
            if day_of < until and name in NETS:
                before[name] += int(moved)
    return LedgerSums(_nonzero(inside), _nonzero(before))


def _nonzero(totals: Counter[str]) -> dict[str, int]:
    """What summaries of other days gave as 0 is left out, as the ledger's rows would."""
    return {kind: amount for kind, amount in totals.items() if amount}


def _nearest_window(wanted: Days, through: dict[str, date]) -> tuple[int, Days] | None:
    """The stored window that leaves the fewest days to read from the ledger, if that is
    well under the range's own: a day read for the difference costs about what
    `DIFFERENCE_COST` days of a plain sum do (each user found is then looked up)."""
    best: tuple[int, int, Days] | None = None
    for size, stored in built_windows(through):
        cost = sum(run.count for run in (*wanted.minus(stored), *stored.minus(wanted)))
        if cost * DIFFERENCE_COST < wanted.count and (best is None or cost < best[0]):
            best = (cost, size, stored)
    return None if best is None else best[1:]


async def top_spenders(session: AsyncSession, window: Window, limit: int) -> list[tuple[int, int]]:
    """(user id, credits spent) of the `limit` users who spent the most; ties by id."""
    wanted = _days(window)
    nearest = _nearest_window(wanted, await summarized_through(session))
    if nearest is None:
        return await _top_from_ledger(session, wanted, limit)
    days, stored = nearest
    add, subtract = wanted.minus(stored), stored.minus(wanted)
    query = _top_from_window(len(add), len(subtract))
    params = {**runs_given(add, subtract), "size": days, "limit": limit}
    top = [(user_id, int(spent)) for user_id, spent in await session.execute(query, params)]
    # On SQLite the readers run outside a transaction: a slide committed between reading
    # the window's day and its rows would mix two windows. Then the ledger says.
    if (await summarized_through(session)).get(window_rollup(days)) != stored.end - DAY:
        return await _top_from_ledger(session, wanted, limit)
    return top


LIMIT: BindParameter[int] = bindparam("limit", type_=Integer)


@functools.cache
def _top_from_window(adding: int, subtracting: int) -> Select[int, int]:
    """The top of a stored window (`size` days) plus `adding` runs less `subtracting`."""
    moved = spent_by_user_in(adding, subtracting).cte("moved")
    kept, size = CreditSpendWindow, bindparam("size", type_=CreditSpendWindow.days.type)
    # Looked up one by one: the few users who moved, not the whole window hashed.
    before = select(kept.spent).where(kept.days == size, kept.user_id == moved.c.user_id)
    changed = select(
        moved.c.user_id, (func.coalesce(before.scalar_subquery(), 0) + moved.c.spent).label("spent")
    )
    unchanged = (
        select(kept.user_id, kept.spent)
        .where(kept.days == size, ~exists().where(moved.c.user_id == kept.user_id))
        .order_by(kept.spent.desc(), kept.user_id)
        .limit(LIMIT)
        .subquery()
    )
    both = union_all(changed, select(unchanged.c.user_id, unchanged.c.spent)).subquery()
    return (
        select(both.c.user_id, both.c.spent)
        .where(both.c.spent > 0)
        .order_by(both.c.spent.desc(), both.c.user_id)
        .limit(LIMIT)
    )


def _top_of_ledger() -> Select[int, int]:
    spent = spent_by_user_in(1, 0).subquery()
    query = select(spent.c.user_id, spent.c.spent).order_by(spent.c.spent.desc(), spent.c.user_id)
    return query.limit(LIMIT)


TOP_OF_LEDGER = _top_of_ledger()


async def _top_from_ledger(
    session: AsyncSession, wanted: Days, limit: int
) -> list[tuple[int, int]]:
    params = {**runs_given([wanted], []), "limit": limit}
    return [(user, int(total)) for user, total in await session.execute(TOP_OF_LEDGER, params)]
