"""What auto top-up tells the platform (docs/webhooks.md), written in the transaction that
settles the top-up: it succeeded (its credits are in), it failed (auto top-up is paused
until the settings are saved again), or it was not made (the monthly limit)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from billing.db import outbox
from billing.payments.auto_topup.models import AutoTopup

SUCCEEDED, FAILED, LIMIT_REACHED = "topup.succeeded", "topup.failed", "topup.limit_reached"


class TopupObject(BaseModel):
    id: int  # the sequence in its Stripe idempotency key, `auto_topup:<user>:<id>`
    status: str  # succeeded | failed | limit_reached
    amount: int  # minor units
    currency: str
    credits: int
    payment_intent_id: str | None  # None when no charge was made
    failure_code: str | None  # card_declined, authentication_required, ...


class TopupData(BaseModel):
    user_id: int
    topup: TopupObject


class LimitReachedData(TopupData):
    monthly_limit: int  # minor units
    charged_this_month: int  # succeeded and pending auto top-ups this UTC month


def _topup(row: AutoTopup) -> TopupObject:
    return TopupObject(
        id=row.id,
        status=row.status,
        amount=row.amount,
        currency=row.currency,
        credits=row.credits or 0,
        payment_intent_id=row.payment_intent_id,
        failure_code=row.failure_code,
    )


def settled(session: AsyncSession, row: AutoTopup, now: datetime) -> None:
    """`topup.succeeded` or `topup.failed`, as the row now says."""
    type_ = SUCCEEDED if row.status == "succeeded" else FAILED
    data = TopupData(user_id=row.user_id, topup=_topup(row))
    outbox.write(
        session, type_, data.model_dump(mode="json", exclude={"user_id"}), row.user_id, now
    )


def limit_reached(
    session: AsyncSession, row: AutoTopup, limits: tuple[int, int], now: datetime
) -> None:
    """`limits`: the monthly limit and what this month's top-ups already charge."""
    monthly_limit, charged = limits
    data = LimitReachedData(
        user_id=row.user_id,
        topup=_topup(row),
        monthly_limit=monthly_limit,
        charged_this_month=charged,
    )
    fields = data.model_dump(mode="json", exclude={"user_id"})
    outbox.write(session, LIMIT_REACHED, fields, row.user_id, now)
