"""The admin dashboard: money, subscriptions, credits and webhook health over a range of
UTC days. Every figure's definition is in docs/dashboard.md.

The SQL aggregates (`repository`); this module only folds their few rows. On
PostgreSQL the queries run in parallel over one snapshot (`snapshot`), so the
figures agree with each other.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction

from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.errors import ValidationProblem
from billing.core.times import utcnow
from billing.credits.accounts import (
    ADMIN_GRANT,
    DISPUTE_REINSTATEMENT,
    EXPIRY,
    PURCHASE,
    REFUND_CLAWBACK,
    SUBSCRIPTION_CLAWBACK,
    SUBSCRIPTION_GRANT,
    VOID,
)
from billing.credits.rollups.queries import PROMOTIONAL_EXPIRY, SPENT_KINDS
from billing.db.engine import Database
from billing.payments.models import FAILED, SUCCEEDED
from billing.reporting.dashboard import repository as queries
from billing.reporting.dashboard.ledger import ledger_sums, top_spenders
from billing.reporting.dashboard.liability import Liability, liability_at
from billing.reporting.dashboard.repository import (
    PaymentGroup,
    PlanGroup,
    Window,
)
from billing.reporting.dashboard.schemas import (
    CreditBreakage,
    CreditLiability,
    Credits,
    CurrencyRevenue,
    DailyRevenue,
    Dashboard,
    DateRange,
    Payments,
    Recurring,
    Revenue,
    Subscriptions,
    TopUser,
    Webhooks,
)
from billing.reporting.dashboard.snapshot import read_together
from billing.webhooks.models import DEAD, IGNORED, PENDING, PROCESSED
from billing.webhooks.models import FAILED as EVENT_FAILED

DEFAULT_DAYS = 30
MAX_DAYS = 3 * 365 + 1  # three years, one of them a leap year
EARLIEST, LATEST = date(1970, 1, 1), date(9999, 12, 30)
TOP_USERS = 10
RATE_DIGITS, LAG_DIGITS = 4, 3
LAG_PERCENTILES = (0.5, 0.95)
# Credits that came into wallets; a won dispute's given back ones included (what its
# claw-back took stays in `clawed_back`), so outstanding = before + issued - the rest
# (docs/dashboard.md says when a lapsed grant makes the two differ).
ISSUED = frozenset(
    {PURCHASE.name, SUBSCRIPTION_GRANT.name, ADMIN_GRANT.name, DISPUTE_REINSTATEMENT.name}
)
SPENT = frozenset(SPENT_KINDS)
# Credits taken back: after refunds and disputes, and a downgrade's unused share.
CLAWED_BACK = frozenset({REFUND_CLAWBACK.name, SUBSCRIPTION_CLAWBACK.name})
# Months in one billing interval of each kind (a year is 12 months, 52 weeks, 365 days).
MONTHS_PER_INTERVAL = {
    "day": Fraction(12, 365),
    "week": Fraction(12, 52),
    "month": Fraction(1),
    "year": Fraction(12),
}


def date_range(first: date | None, last: date | None, today: date) -> DateRange:
    """Both days inclusive; `to` defaults to today, `from` to 29 days before `to`."""
    last = _within_bounds(last or today)
    first = _within_bounds(first or last - timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise ValidationProblem("`from` is after `to`.")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationProblem(f"The range is longer than {MAX_DAYS} days (three years).")
    return DateRange(from_=first, to=last)


def _within_bounds(day: date) -> date:
    """Checked before any arithmetic on it, which would overflow near `date.min`/`max`."""
    if not EARLIEST <= day <= LATEST:
        raise ValidationProblem(f"Dates must be between {EARLIEST} and {LATEST}.")
    return day


def window(days: DateRange) -> Window:
    """From the first day's midnight UTC up to (not including) the midnight after the last."""
    start = datetime.combine(days.from_, time(), UTC)
    return Window(start, datetime.combine(days.to + timedelta(days=1), time(), UTC))


def rate(part: int, whole: int) -> float:
    return round(part / whole, RATE_DIGITS) if whole else 0.0


def round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def monthly(per_interval: int, interval: str | None, count: int | None) -> Fraction | None:
    """What `per_interval` (charged every `count` intervals) is worth per month; None when
    the plan's interval is unknown."""
    months = MONTHS_PER_INTERVAL.get(interval or "")
    if months is None or not count or count < 1:
        return None
    return Fraction(per_interval) / (months * count)


def revenue(groups: Iterable[PaymentGroup]) -> Revenue:
    daily = sorted(
        (
            DailyRevenue(
                date=g.day,
                currency=g.currency,
                gross=g.amount,
                refunded=g.reversed,
                net=g.amount - g.reversed,
            )
            for g in groups
            if g.status == SUCCEEDED
        ),
        key=lambda day: (day.date, day.currency),
    )
    totals: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for day in daily:
        totals[day.currency][0] += day.gross
        totals[day.currency][1] += day.refunded
    by_currency = [
        CurrencyRevenue(currency=currency, gross=gross, refunded=refunded, net=gross - refunded)
        for currency, (gross, refunded) in sorted(totals.items())
    ]
    return Revenue(by_currency=by_currency, daily=daily)


def payments(groups: Iterable[PaymentGroup]) -> Payments:
    counts: dict[str, int] = {SUCCEEDED: 0, FAILED: 0}
    for group in groups:
        counts[group.status] += group.count
    failed, succeeded = counts[FAILED], counts[SUCCEEDED]
    return Payments(
        succeeded=succeeded, failed=failed, failure_rate=rate(failed, failed + succeeded)
    )


def recurring(groups: Iterable[PlanGroup]) -> list[Recurring]:
    """MRR exactly, then rounded once per currency; ARR is 12 times the exact MRR."""
    exact: defaultdict[str, Fraction] = defaultdict(Fraction)
    for group in groups:
        per_month = monthly(group.recurring_at_end, group.interval, group.interval_count)
        if group.currency and group.paying_at_end and per_month is not None:
            exact[group.currency] += per_month
    return [
        Recurring(currency=currency, mrr=round_half_up(mrr), arr=round_half_up(12 * mrr))
        for currency, mrr in sorted(exact.items())
    ]


def subscriptions(groups: Iterable[PlanGroup]) -> Subscriptions:
    groups = list(groups)
    at_start = sum(g.live_at_start for g in groups)
    new = sum(g.new for g in groups)
    ended = sum(g.ended for g in groups)
    return Subscriptions(
        active=sum(g.live_at_end for g in groups),
        new=new,
        canceled=ended,
        churn_rate=rate(ended, at_start + new),
    )


def credits(totals: dict[str, int], liability: Liability) -> Credits:
    expired, promotional = totals.get(EXPIRY.name, 0), totals.get(PROMOTIONAL_EXPIRY, 0)
    return Credits(
        issued=sum(amount for kind, amount in totals.items() if kind in ISSUED),
        spent=sum(amount for kind, amount in totals.items() if kind in SPENT),
        expired=expired,
        clawed_back=sum(amount for kind, amount in totals.items() if kind in CLAWED_BACK),
        outstanding=liability.total,
        voided=totals.get(VOID.name, 0),
        liability=CreditLiability(
            paid=liability.paid, promotional=liability.promotional, held=liability.held
        ),
        # Expiries from before grants existed emptied no grant: paid, as 0011 carried over.
        breakage=CreditBreakage(paid=expired - promotional, promotional=promotional),
    )


def webhooks(counts: dict[str, int], lags: list[float | None]) -> Webhooks:
    p50, p95 = (None if lag is None else round(lag, LAG_DIGITS) for lag in lags)
    return Webhooks(
        received=sum(counts.values()),
        processed=counts.get(PROCESSED, 0),
        failed=counts.get(EVENT_FAILED, 0),
        dead=counts.get(DEAD, 0),
        ignored=counts.get(IGNORED, 0),
        pending=counts.get(PENDING, 0),
        lag_p50_seconds=p50,
        lag_p95_seconds=p95,
    )


async def dashboard(database: Database, days: DateRange) -> Dashboard:
    span, now = window(days), utcnow()

    # The liability at the range's end if that is past, from the days before it; else now,
    # from every row the readers see (one stamped after `now` too, as the grants they read
    # reflect it).
    moment, until = min(span.end, now), min(days.to, now.date()) + timedelta(days=1)
    past = span.end <= now

    async def ledger(session: AsyncSession) -> tuple[dict[str, int], Liability]:
        sums = await ledger_sums(session, span, until)
        return sums.in_window, await liability_at(session, sums.net_before, moment, past)

    async def spenders(session: AsyncSession) -> list[tuple[int, int]]:
        return await top_spenders(session, span, TOP_USERS)

    async def billing(session: AsyncSession) -> tuple[list[PaymentGroup], list[PlanGroup]]:
        return await queries.payment_groups(session, span), await queries.plan_groups(
            session, span, now
        )

    async def inbox(session: AsyncSession) -> dict[str, int]:
        return await queries.inbox_counts(session, span)

    async def lag(session: AsyncSession) -> list[float | None]:
        return await queries.lag_percentiles(session, span, LAG_PERCENTILES)

    # Five lanes, in parallel on PostgreSQL; over a year, the lag percentiles (a sort of
    # every processed event's lag) is the longest.
    read = await read_together(database, [lag, spenders, ledger, billing, inbox])
    lags, top, (totals, liability), (payment_rows, plan_rows), counts = read
    return Dashboard(
        range=days,
        revenue=revenue(payment_rows),
        recurring=recurring(plan_rows),
        subscriptions=subscriptions(plan_rows),
        payments=payments(payment_rows),
        credits=credits(totals, liability),
        top_users=[TopUser(user_id=user, spent=spent) for user, spent in top],
        webhooks=webhooks(counts, lags),
    )
