"""The ledger summed by day and kind, and by user, over runs of whole UTC days.

The statements are built once per shape and given their days as bound parameters: the
dashboard runs them on every call, and building them cost more Python than running them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    case,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.accounts import EXPIRY, HOLD_CAPTURE, SPEND, SYSTEM_ACCOUNT_IDS
from billing.credits.grants import PROMOTIONAL
from billing.credits.models import CreditEntry, CreditGrant, CreditGrantEntry, CreditTransaction
from billing.credits.rollups.models import CreditRollup
from billing.db.statements import Parameterized, Span, utc_day_in

# Credits used: spends and usage, and what captured holds took.
SPENT_KINDS = (SPEND.name, HOLD_CAPTURE.name)
# Beside the kinds in a day's totals: the credits of promotional grants that expired,
PROMOTIONAL_EXPIRY = f"{EXPIRY.name}:promotional"
# and what the day's transactions moved into wallets, `held` and promotional grants, less
# what they moved out: summed up to an instant, what each held then.
WALLETS_NET, HELD_NET, PROMOTIONAL_NET = "net:wallets", "net:held", "net:promotional"
HELD_ACCOUNT_ID = SYSTEM_ACCOUNT_IDS["held"]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


@dataclass(frozen=True, slots=True)
class Days:
    """The UTC days from `first` up to, not including, `end`."""

    first: date
    end: date

    @property
    def count(self) -> int:
        return max(0, (self.end - self.first).days)

    def minus(self, other: Days) -> list[Days]:
        """The days of these that are not in `other`: none, one run or two."""
        before = Days(self.first, min(self.end, other.first))
        after = Days(max(self.first, other.end), self.end)
        return [run for run in (before, after) if run.count]


def _given(span: Span, days: Days) -> dict[str, Any]:
    """The values of `span`'s bounds for `days`: their first and last midnights."""
    return span.values(midnight(days.first), midnight(days.end))


DAYS = Span("days")


def kinds_by_day(dialect: str, days: Days) -> Parameterized[CompoundSelect[*tuple[Any, ...]]]:
    """(day, kind, credits) of every kind moved on each of `days`; (day,
    `PROMOTIONAL_EXPIRY`, credits) of the expiries that emptied promotional grants (the
    grant entries say which grants each expiry took from); and (day, `*_NET`, credits)."""
    return Parameterized(_kinds_by_day(dialect), _given(DAYS, days))


@functools.cache
def _kinds_by_day(dialect: str) -> CompoundSelect[*tuple[Any, ...]]:
    day = utc_day_in(dialect, CreditTransaction.created_at)
    within = DAYS.holds(CreditTransaction.created_at)
    entries = CreditEntry.transaction_id == CreditTransaction.id
    grant_entries = CreditGrantEntry.transaction_id == CreditTransaction.id
    promotional = CreditGrant.source.in_(PROMOTIONAL)

    def net(name: str, amount: Any, *where: ColumnElement[bool]) -> Select[date, str, int]:
        return select(day, literal(name), func.sum(amount)).where(within, *where).group_by(day)

    by_kind = (
        select(day.label("day"), CreditTransaction.kind, func.sum(CreditTransaction.amount))
        .where(within)
        .group_by(day, CreditTransaction.kind)
    )
    in_grants = CreditTransaction.__table__.join(CreditGrantEntry, grant_entries).join(
        CreditGrant, CreditGrant.id == CreditGrantEntry.grant_id
    )
    in_entries = CreditTransaction.__table__.join(CreditEntry, entries)
    promotional_moved = (
        select(func.sum(CreditGrantEntry.amount))
        .join(CreditGrant, CreditGrant.id == CreditGrantEntry.grant_id)
        .where(grant_entries, promotional)
        .scalar_subquery()
    )
    expiry = CreditTransaction.kind == EXPIRY.name
    return union_all(
        by_kind,
        net(PROMOTIONAL_EXPIRY, -CreditGrantEntry.amount, expiry, promotional).select_from(
            in_grants
        ),
        net(WALLETS_NET, CreditEntry.amount, CreditEntry.balance_after.is_not(None)).select_from(
            in_entries
        ),
        net(HELD_NET, CreditEntry.amount, CreditEntry.account_id == HELD_ACCOUNT_ID).select_from(
            in_entries
        ),
        # Looked up per transaction: joined, the planner would hash every grant entry.
        net(PROMOTIONAL_NET, promotional_moved).having(func.sum(promotional_moved).is_not(None)),
    )


def spent_by_user(
    add: Sequence[Days], subtract: Sequence[Days] = ()
) -> Parameterized[Select[*tuple[Any, ...]]]:
    """(user, credits) spent in the `add` days less those spent in the `subtract` days, for
    every user who spent in either."""
    statement = spent_by_user_in(len(add), len(subtract))
    return Parameterized(statement, runs_given(add, subtract))


def runs_given(add: Sequence[Days], subtract: Sequence[Days]) -> dict[str, Any]:
    """The values of `spent_by_user_in`'s runs."""
    params: dict[str, Any] = {}
    for name, runs in (("add", add), ("subtract", subtract)):
        for index, days in enumerate(runs):
            params.update(_given(Span(f"{name}{index}"), days))
    return params


@functools.cache
def spent_by_user_in(adding: int, subtracting: int) -> Select[int, int]:
    """`spent_by_user` of `adding` and `subtracting` runs, to compose into another
    statement built once (`runs_given` gives its values)."""
    created_at = CreditTransaction.created_at
    added = or_(false(), *(Span(f"add{index}").holds(created_at) for index in range(adding)))
    subtracted = or_(
        false(), *(Span(f"subtract{index}").holds(created_at) for index in range(subtracting))
    )
    amount = CreditTransaction.amount
    signed = case((added, amount), else_=-amount) if subtracting else amount
    return (
        select(CreditTransaction.user_id, func.sum(signed).label("spent"))
        .where(CreditTransaction.kind.in_(SPENT_KINDS), added | subtracted)
        .group_by(CreditTransaction.user_id)
    )


SUMMARIZED_THROUGH = select(CreditRollup.name, CreditRollup.through)


async def summarized_through(session: AsyncSession) -> dict[str, date]:
    """Each built rollup's last summarized day."""
    rows = await session.execute(SUMMARIZED_THROUGH)
    return {name: through for name, through in rows if through is not None}
