"""The subscriptions live now, summed per currency and billing interval, as the triggers of
migration 0024 keep them in `subscription_plan_totals`: the same sums computed from the
subscriptions themselves, to rebuild the table after a load that bypassed the triggers and
to prove it right."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, case, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.db.statements import differing
from billing.payments.models import (
    NEVER_STARTED,
    NO_CURRENCY,
    NO_INTERVAL,
    NO_INTERVAL_COUNT,
    NOT_PAYING,
    Subscription,
    SubscriptionPlanTotal,
)

CHECK = "every plan total sums the subscriptions live on its plan (listed: interval counts)"
SAMPLE = 10
LIVE = Subscription.status.not_in(NEVER_STARTED) & Subscription.ended_at.is_(None)
PAYING = Subscription.status.not_in(NOT_PAYING) & Subscription.unit_amount.is_not(None)


def plan_key() -> tuple[ColumnElement[Any], ...]:
    """A subscription's (currency, interval, interval_count), as the table keys them."""
    return (
        func.coalesce(Subscription.currency, NO_CURRENCY),
        func.coalesce(Subscription.interval, NO_INTERVAL),
        func.coalesce(Subscription.interval_count, NO_INTERVAL_COUNT),
    )


def summed() -> Select[str, str, int, int, int, int]:
    """(currency, interval, interval_count, live, paying, recurring) of every plan."""
    key = plan_key()
    per_interval = Subscription.unit_amount * Subscription.quantity
    return (
        select(
            *key,
            func.count(),
            func.sum(case((PAYING, 1), else_=0)),
            func.sum(case((PAYING, per_interval), else_=0)),
        )
        .where(LIVE)
        .group_by(*key)
    )


async def rebuild(session: AsyncSession) -> None:
    """The table made again from the subscriptions."""
    await session.execute(delete(SubscriptionPlanTotal))
    columns = ["currency", "interval", "interval_count", "live", "paying", "recurring"]
    await session.execute(insert(SubscriptionPlanTotal).from_select(columns, summed()))


async def failures(session: AsyncSession) -> dict[str, list[int]]:
    """The check's name and the interval counts of the plans whose totals differ."""
    table = SubscriptionPlanTotal
    kept = select(
        table.interval_count,
        table.currency,
        table.interval,
        table.live,
        table.paying,
        table.recurring,
    ).where(or_(table.live != 0, table.paying != 0, table.recurring != 0))
    computed = summed().subquery()
    columns = computed.c
    reordered = select(columns[2], columns[0], columns[1], columns[3], columns[4], columns[5])
    plans: list[int] = await differing(session, kept, reordered, SAMPLE)
    return {CHECK: plans} if plans else {}
