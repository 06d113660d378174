"""Reads of the payment mirrors, for the pages and reports that show them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments.models import Payment, Subscription


async def payments_for_user(session: AsyncSession, user_id: int) -> list[Payment]:
    """A user's payments, newest first."""
    query = (
        select(Payment)
        .where(Payment.user_id == user_id)
        .order_by(Payment.created_at.desc(), Payment.id.desc())
    )
    return list(await session.scalars(query))


async def subscriptions_for_user(session: AsyncSession, user_id: int) -> list[Subscription]:
    """A user's subscriptions, newest first."""
    query = (
        select(Subscription)
        .where(Subscription.user_id == user_id)
        .order_by(Subscription.created_at.desc(), Subscription.id.desc())
    )
    return list(await session.scalars(query))
