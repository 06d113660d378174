"""Payments summed per UTC day, currency and status, as the triggers of migration 0023
keep them in `payment_day_totals`: the same sums computed from the payments themselves,
to rebuild the table after a load that bypassed the triggers and to prove it right."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, case, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.db.statements import differing, utc_day
from billing.payments.models import FAILED, SUCCEEDED, Payment, PaymentDayTotal

REPORTED = (SUCCEEDED, FAILED)
# A kept total's columns, in the order `summed` computes them.
KEPT = (
    PaymentDayTotal.day,
    PaymentDayTotal.currency,
    PaymentDayTotal.status,
    PaymentDayTotal.count,
    PaymentDayTotal.amount,
    PaymentDayTotal.reversed,
)
CHECK = "every payment day total sums that day's payments"
SAMPLE = 10


def summed(session: AsyncSession) -> Select[date, str, str, int, int, int]:
    """(day, currency, status, count, amount, reversed) of every group of payments."""
    day = utc_day(session, Payment.created_at)
    taken_back = Payment.amount_refunded + Payment.amount_disputed
    reversed_ = case((taken_back < Payment.amount, taken_back), else_=Payment.amount)
    return (
        select(
            day,
            Payment.currency,
            Payment.status,
            func.count(),
            func.sum(Payment.amount),
            func.sum(reversed_),
        )
        .where(Payment.status.in_(REPORTED))
        .group_by(day, Payment.currency, Payment.status)
    )


async def rebuild(session: AsyncSession) -> None:
    """The table made again from the payments."""
    await session.execute(delete(PaymentDayTotal))
    columns = ["day", "currency", "status", "count", "amount", "reversed"]
    await session.execute(insert(PaymentDayTotal).from_select(columns, summed(session)))


async def failures(session: AsyncSession) -> dict[str, list[int]]:
    """The check's name and a sample of the days (as YYYYMMDD) whose totals differ."""
    kept = select(*KEPT).where(
        or_(
            PaymentDayTotal.count != 0,
            PaymentDayTotal.amount != 0,
            PaymentDayTotal.reversed != 0,
        )
    )
    days: list[date] = await differing(session, kept, summed(session), SAMPLE)
    return {CHECK: [int(day.strftime("%Y%m%d")) for day in days]} if days else {}
