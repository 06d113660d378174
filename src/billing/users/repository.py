"""Reads for user lookup and per-day usage: customers, wallets, and the ledger's usage
account."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.accounts import SYSTEM_ACCOUNT_IDS
from billing.credits.models import CreditAccount, CreditEntry, CreditTransaction
from billing.db.statements import utc_day
from billing.payments.models import StripeCustomer
from billing.reporting.dashboard.repository import WINDOW, Window

SEARCH_LIMIT = 20
USAGE_ACCOUNT = SYSTEM_ACCOUNT_IDS["usage"]
GRANTING = ("purchase", "subscription_grant", "admin_grant", "dispute_reinstatement")


async def users_with_customer(session: AsyncSession, condition: ColumnElement[bool]) -> list[int]:
    """Users one of whose customers (current or erased) matches, fewest first."""
    query = select(StripeCustomer.user_id).where(condition).distinct()
    return list(await session.scalars(query.order_by(StripeCustomer.user_id).limit(SEARCH_LIMIT)))


async def known(session: AsyncSession, user_id: int) -> bool:
    """Whether the user has a wallet or a customer: someone the service has seen."""
    wallet = select(CreditAccount.id).where(CreditAccount.user_id == user_id)
    customer = select(StripeCustomer.id).where(StripeCustomer.user_id == user_id)
    return await session.scalar(select(wallet.exists() | customer.exists())) or False


async def customers_of(session: AsyncSession, user_ids: Iterable[int]) -> list[StripeCustomer]:
    """The users' customers, oldest first: the current one last."""
    query = select(StripeCustomer).where(StripeCustomer.user_id.in_(list(user_ids)))
    return list(await session.scalars(query.order_by(StripeCustomer.id)))


async def wallets_of(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, Any]:
    """The users' wallets by user id (balance and threshold)."""
    query = select(
        CreditAccount.user_id, CreditAccount.balance, CreditAccount.low_balance_threshold
    ).where(CreditAccount.user_id.in_(list(user_ids)))
    return {row.user_id: row for row in await session.execute(query)}


async def usage_by_day(
    session: AsyncSession, user_id: int, window: Window
) -> list[tuple[date, int, int]]:
    """(day, spent, granted) for the days with any: spent is what reached the `usage`
    account (spends, usage events, captured holds), granted what granting kinds credited."""
    day = utc_day(session, CreditTransaction.created_at)
    spent = case((CreditEntry.account_id == USAGE_ACCOUNT, CreditEntry.amount), else_=0)
    granted = case(
        (CreditTransaction.kind.in_(GRANTING) & (CreditEntry.amount > 0), CreditEntry.amount),
        else_=0,
    )
    query = (
        select(day.label("day"), func.sum(spent), func.sum(granted))
        .join(CreditEntry, CreditEntry.transaction_id == CreditTransaction.id)
        .where(CreditTransaction.user_id == user_id, WINDOW.holds(CreditTransaction.created_at))
        .group_by(day)
    )
    rows = await session.execute(query, window.params)
    return [(row[0], int(row[1] or 0), int(row[2] or 0)) for row in rows]
