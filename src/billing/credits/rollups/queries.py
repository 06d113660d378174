"""The ledger summed by day and kind, and by user, over runs of whole UTC days."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.accounts import EXPIRY, HOLD_CAPTURE, SPEND
from billing.credits.grants import PROMOTIONAL
from billing.credits.models import CreditGrant, CreditGrantEntry, CreditTransaction
from billing.credits.rollups.models import CreditRollup
from billing.db.statements import utc_day

# Credits used: spends and usage, and what captured holds took.
SPENT_KINDS = (SPEND.name, HOLD_CAPTURE.name)
# Beside the kinds in a day's totals: the credits of promotional grants that expired.
PROMOTIONAL_EXPIRY = f"{EXPIRY.name}:promotional"


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

    def holds(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= midnight(self.first), column < midnight(self.end))

    def minus(self, other: Days) -> list[Days]:
        """The days of these that are not in `other`: none, one run or two."""
        before = Days(self.first, min(self.end, other.first))
        after = Days(max(self.first, other.end), self.end)
        return [run for run in (before, after) if run.count]


def kinds_by_day(session: AsyncSession, days: Days) -> CompoundSelect[date, str, int]:
    """(day, kind, credits) of every kind moved on each of `days`, and (day,
    `PROMOTIONAL_EXPIRY`, credits) of the expiries that emptied promotional grants (the
    grant entries say which grants each expiry took from)."""
    day = utc_day(session, CreditTransaction.created_at)
    by_kind = (
        select(day.label("day"), CreditTransaction.kind, func.sum(CreditTransaction.amount))
        .where(days.holds(CreditTransaction.created_at))
        .group_by(day, CreditTransaction.kind)
    )
    promotional = (
        select(day, literal(PROMOTIONAL_EXPIRY), func.sum(-CreditGrantEntry.amount))
        .join(CreditGrantEntry, CreditGrantEntry.transaction_id == CreditTransaction.id)
        .join(CreditGrant, CreditGrant.id == CreditGrantEntry.grant_id)
        .where(
            days.holds(CreditTransaction.created_at),
            CreditTransaction.kind == EXPIRY.name,
            CreditGrant.source.in_(PROMOTIONAL),
        )
        .group_by(day)
    )
    return union_all(by_kind, promotional)


def spent_by_user(add: Sequence[Days], subtract: Sequence[Days] = ()) -> Select[int, int]:
    """(user, credits) spent in the `add` days less those spent in the `subtract` days, for
    every user who spent in either."""
    created_at = CreditTransaction.created_at
    added = or_(false(), *(days.holds(created_at) for days in add))
    subtracted = or_(false(), *(days.holds(created_at) for days in subtract))
    amount = CreditTransaction.amount
    signed = case((added, amount), else_=-amount) if subtract else amount
    return (
        select(CreditTransaction.user_id, func.sum(signed).label("spent"))
        .where(CreditTransaction.kind.in_(SPENT_KINDS), added | subtracted)
        .group_by(CreditTransaction.user_id)
    )


async def summarized_through(session: AsyncSession) -> dict[str, date]:
    """Each built rollup's last summarized day."""
    query = select(CreditRollup.name, CreditRollup.through).where(CreditRollup.through.is_not(None))
    rows = await session.execute(query)
    return {name: through for name, through in rows if through is not None}
