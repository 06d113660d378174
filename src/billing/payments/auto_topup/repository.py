"""Queries of auto top-up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments.auto_topup.models import CHARGING, PENDING, SUCCEEDED, AutoTopup

IN_FLIGHT = (CHARGING, PENDING)
COUNTED = (CHARGING, PENDING, SUCCEEDED)  # what the monthly limit counts


async def charged_since(session: AsyncSession, user_id: int, currency: str, since: datetime) -> int:
    """What the user's auto top-ups in `currency` made since `since` charge, pending ones
    included (the limit is in the minor units of the terms' currency)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(AutoTopup.amount), 0)).where(
            AutoTopup.user_id == user_id,
            AutoTopup.status.in_(COUNTED),
            AutoTopup.currency == currency,
            AutoTopup.created_at >= since,
        )
    )
    return int(total or 0)


async def in_flight(session: AsyncSession, user_id: int) -> AutoTopup | None:
    """The user's one top-up in flight, locked: whoever settles it settles it once."""
    return await session.scalar(
        select(AutoTopup)
        .where(AutoTopup.user_id == user_id, AutoTopup.status.in_(IN_FLIGHT))
        .with_for_update()
    )


async def abandoned_charges(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> list[int]:
    """Charges whose worker stopped before Stripe answered, leased anew to this one: they
    are charged again under the same Stripe idempotency key, so at most once."""
    stale = (
        select(AutoTopup.id)
        .where(AutoTopup.status == CHARGING, AutoTopup.claimed_until < now)
        .order_by(AutoTopup.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    leased = (
        update(AutoTopup)
        .where(AutoTopup.id.in_(stale.scalar_subquery()))
        .values(claimed_until=lease_until, updated_at=now)
        .returning(AutoTopup.id)
    )
    return list((await session.scalars(leased)).all())
