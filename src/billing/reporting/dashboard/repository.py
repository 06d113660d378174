"""The dashboard's SQL: aggregate statements over a time window, on either database.

Each returns a handful of grouped rows, never the rows it aggregates. Times are UTC;
a window holds `start <= t < end`. The statements are built once, with the window's bounds
as bound parameters: building them on every call cost about a fifth of a dashboard's
Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Float,
    Integer,
    Select,
    bindparam,
    case,
    cast,
    func,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from billing.db.statements import Span
from billing.payments import day_totals
from billing.payments.models import (
    NEVER_STARTED,
    NO_CURRENCY,
    NO_INTERVAL,
    NO_INTERVAL_COUNT,
    NOT_PAYING,
    PaymentDayTotal,
    Subscription,
    SubscriptionPlanTotal,
)
from billing.payments.plan_totals import plan_key
from billing.webhooks.models import WebhookEvent


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime  # inclusive
    end: datetime  # exclusive

    @property
    def params(self) -> dict[str, datetime]:
        """The values of `WINDOW`'s bounds."""
        return WINDOW.values(self.start, self.end)


# A window in the statements, given when each runs (`Window.params`); its UTC days.
WINDOW, DAYS = Span("window"), Span("days")
START, END = WINDOW.start, WINDOW.end


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


@dataclass(frozen=True, slots=True)
class PaymentGroup:
    day: date
    currency: str
    status: str
    count: int
    amount: int
    reversed: int  # refunded or disputed, at most the amount


PAYMENT_GROUPS = select(*day_totals.KEPT).where(
    DAYS.holds(PaymentDayTotal.day), PaymentDayTotal.count != 0
)


async def payment_groups(session: AsyncSession, window: Window) -> list[PaymentGroup]:
    """Payments recorded in the window, per UTC day, currency and outcome (the totals the
    payments' triggers keep, `payments.day_totals`)."""
    days = DAYS.values(window.start.date(), window.end.date())
    return [PaymentGroup(*row) for row in await session.execute(PAYMENT_GROUPS, days)]


@dataclass(frozen=True, slots=True)
class PlanGroup:
    currency: str | None
    interval: str | None
    interval_count: int | None
    live_at_start: int
    new: int
    ended: int
    live_at_end: int
    paying_at_end: int
    recurring_at_end: int  # sum of unit_amount x quantity of those paying, per interval


async def plan_groups(session: AsyncSession, window: Window, now: datetime) -> list[PlanGroup]:
    """Subscriptions that started, per currency and billing interval: live when the window
    opens and closes, started and ended within it, and what those paying at its close cost.

    For a window still open now, those live at its close are those live now, whose sums
    the subscriptions' triggers keep (`payments.plan_totals`); only those that started or
    ended within it are read. Otherwise (or when some subscription is dated after the
    window, as a test clock's may be) they are summed from the rows; and always on SQLite,
    whose readers share no snapshot (a subscription written between these reads would be
    counted in one and not the other). A plan's key is `plan_key`'s either way."""
    if not _is_postgres(session) or window.end <= now or await _dated_from(session, window.end):
        return await _plan_groups_from_rows(session, window)
    live = {
        (row.currency, row.interval, row.interval_count): row
        for row in await session.scalars(LIVE_PER_PLAN)
    }
    started = await _plan_counts(session, STARTED_PER_PLAN, window)
    ended = await _plan_counts(session, ENDED_PER_PLAN, window)
    groups = []
    for key in sorted({*live, *started, *ended}):
        now_live = live.get(key)
        at_end = now_live.live if now_live else 0
        new, gone = started.get(key, 0), ended.get(key, 0)
        if at_end + gone == 0:
            continue  # no subscription of this plan was live in the window
        paying, recurring = (now_live.paying, now_live.recurring) if now_live else (0, 0)
        groups.append(
            PlanGroup(*_plan(*key), at_end + gone - new, new, gone, at_end, paying, recurring)
        )
    return groups


def _plan(currency: str, interval: str, count: int) -> tuple[str | None, str | None, int | None]:
    """A plan's key as `plan_key` makes it, its placeholders back to None."""
    return (
        None if currency == NO_CURRENCY else currency,
        None if interval == NO_INTERVAL else interval,
        None if count == NO_INTERVAL_COUNT else count,
    )


MOMENT: BindParameter[datetime] = bindparam("moment")
DATED_FROM = select(
    select(Subscription.id)
    .where((Subscription.created_at >= MOMENT) | (Subscription.ended_at >= MOMENT))
    .exists()
)


async def _dated_from(session: AsyncSession, moment: datetime) -> bool:
    """Whether a subscription started or ended at `moment` or after."""
    return bool(await session.scalar(DATED_FROM, {"moment": moment}))


def _per_plan(condition: ColumnElement[bool]) -> Select[str, str, int, int]:
    """Subscriptions that started once (not `NEVER_STARTED`) meeting `condition`, per plan."""
    key = plan_key()
    return (
        select(*key, func.count())
        .where(condition, Subscription.status.not_in(NEVER_STARTED))
        .group_by(*key)
    )


LIVE_PER_PLAN = select(SubscriptionPlanTotal)
STARTED_PER_PLAN = _per_plan(
    WINDOW.holds(Subscription.created_at)
    & (Subscription.ended_at.is_(None) | (Subscription.ended_at >= START))
)
ENDED_PER_PLAN = _per_plan(WINDOW.holds(Subscription.ended_at))


async def _plan_counts(
    session: AsyncSession, query: Select[str, str, int, int], window: Window
) -> dict[tuple[str, str, int], int]:
    rows = await session.execute(query, window.params)
    return {(row[0], row[1], row[2]): int(row[3]) for row in rows}


def _summed_from_rows() -> Select[*tuple[Any, ...]]:
    """Only those live at some time in the window are read: each was live when it opened
    unless it started within it, and is live when it closes unless it ended within it."""
    started_in = Subscription.created_at >= START
    ended_in = Subscription.ended_at < END
    paying_at_end = (
        (Subscription.ended_at.is_(None) | (Subscription.ended_at >= END))
        & Subscription.status.not_in(NOT_PAYING)
        & Subscription.unit_amount.is_not(None)
    )
    per_interval = Subscription.unit_amount * Subscription.quantity
    key = plan_key()
    return (
        select(
            *key,
            func.count(),
            _count(started_in),
            _count(ended_in),
            _count(paying_at_end),
            func.coalesce(func.sum(case((paying_at_end, per_interval), else_=0)), 0),
        )
        .where(
            Subscription.status.not_in(NEVER_STARTED),
            Subscription.created_at < END,
            Subscription.ended_at.is_(None) | (Subscription.ended_at >= START),
        )
        .group_by(*key)
    )


SUMMED_FROM_ROWS = _summed_from_rows()


async def _plan_groups_from_rows(session: AsyncSession, window: Window) -> list[PlanGroup]:
    """`plan_groups` summed from the subscriptions' rows."""
    groups = []
    for row in await session.execute(SUMMED_FROM_ROWS, window.params):
        values: tuple[Any, ...] = tuple(row)
        currency, interval, count, total, new, ended, paying, amount = values
        plan = _plan(currency, interval, count)
        groups.append(PlanGroup(*plan, total - new, new, ended, total - ended, paying, int(amount)))
    return groups


INBOX_COUNTS = (
    select(WebhookEvent.status, func.count())
    .where(WINDOW.holds(WebhookEvent.received_at))
    .group_by(WebhookEvent.status)
)


async def inbox_counts(session: AsyncSession, window: Window) -> dict[str, int]:
    """Events received in the window, per status as they stand."""
    return {status: count for status, count in await session.execute(INBOX_COUNTS, window.params)}


def _lag_seconds(dialect: str) -> ColumnElement[float]:
    processed, received = WebhookEvent.processed_at, WebhookEvent.received_at
    if dialect == "postgresql":  # date_part gives a double; extract() a slower numeric
        return func.date_part("epoch", processed - received, type_=Float)
    return cast((func.julianday(processed) - func.julianday(received)) * 86400.0, Float)


PROCESSED = (WINDOW.holds(WebhookEvent.received_at), WebhookEvent.processed_at.is_not(None))
# All fractions from one sort of the lags (an aggregate per fraction sorts each).
LAG_PERCENTILES = select(
    func.percentile_cont(
        bindparam("fractions", type_=postgresql.ARRAY(Float)), type_=postgresql.ARRAY(Float)
    ).within_group(_lag_seconds("postgresql"))
).where(*PROCESSED)
PROCESSED_COUNT = select(func.count()).where(*PROCESSED)
LAGS_FROM = (
    select(_lag_seconds("sqlite"))
    .where(*PROCESSED)
    .order_by(_lag_seconds("sqlite"))
    .offset(bindparam("below", type_=Integer))
    .limit(2)
)


async def lag_percentiles(
    session: AsyncSession, window: Window, fractions: tuple[float, ...]
) -> list[float | None]:
    """Continuous percentiles (linear interpolation, as PostgreSQL's `percentile_cont`) of
    received-to-processed seconds of the window's events that were processed; None if none."""
    if _is_postgres(session):
        params = {**window.params, "fractions": list(fractions)}
        found = await session.scalar(LAG_PERCENTILES, params)
        return [None for _ in fractions] if found is None else [float(v) for v in found]
    count = await session.scalar(PROCESSED_COUNT, window.params) or 0
    if count == 0:
        return [None for _ in fractions]
    values: list[float | None] = []
    for fraction in fractions:
        position = fraction * (count - 1)
        below = int(position)
        pair = list(await session.scalars(LAGS_FROM, {**window.params, "below": below}))
        above = pair[1] if len(pair) > 1 else pair[0]
        values.append(pair[0] + (position - below) * (above - pair[0]))
    return values
