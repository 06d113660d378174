"""The credit liability at an instant: what users could still spend, split by where the
credits came from, and what active holds reserved for them.

Wallet balances are exact as of any instant since the ledger began (the balances now, less
every wallet entry since). Grants (migration 0011) say where credits came from and when
they lapse, so they subtract what had lapsed by the instant (a grant past its
`expires_at` is no liability, swept or not) and give the promotional part; the rest is
paid. Reading `paid` as that remainder keeps it exact for instants before grants existed:
the balances 0011 carried over opened `purchase` grants, paid ones.

A grant's `remaining` at a past instant is its `remaining` now less its grant entries of
transactions created since, as the wallets' balances are. Held credits left their grants
for the `held` system account: still the users' credits, counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.accounts import SYSTEM_ACCOUNT_IDS
from billing.credits.grants import PROMOTIONAL
from billing.credits.models import (
    ACTIVE,
    CreditAccount,
    CreditEntry,
    CreditGrant,
    CreditGrantEntry,
    CreditTransaction,
)

HELD_ACCOUNT_ID = SYSTEM_ACCOUNT_IDS["held"]
LAPSED, PROMOTION, OTHER = "lapsed", "promotional", "other"


@dataclass(frozen=True, slots=True)
class Liability:
    paid: int
    promotional: int
    held: int

    @property
    def total(self) -> int:
        return self.paid + self.promotional + self.held


async def liability_at(session: AsyncSession, moment: datetime) -> Liability:
    """The liability at `moment`, which is not in the future (entries are read as of it)."""
    in_wallets = await _wallets_at(session, moment)
    remaining = await _grants_at(session, moment)
    promotional = remaining.get(PROMOTION, 0)
    return Liability(
        paid=in_wallets - remaining.get(LAPSED, 0) - promotional,
        promotional=promotional,
        held=await _held_at(session, moment),
    )


def _since(moment: datetime) -> ColumnElement[bool]:
    return CreditTransaction.created_at >= moment


async def _less_since(session: AsyncSession, now: Select[Any], since: Select[Any]) -> int:
    """`now` (a sum as it stands) less `since` (the same sum over transactions from `moment`)."""
    total = await session.scalar(select(now.scalar_subquery() - since.scalar_subquery()))
    return int(total or 0)


def _sum(column: Any) -> Select[Any]:
    return select(func.coalesce(func.sum(column), 0))


async def _wallets_at(session: AsyncSession, moment: datetime) -> int:
    """Credits in wallets at `moment` (wallet entries are those that record a balance)."""
    now = _sum(CreditAccount.balance).where(CreditAccount.kind == "wallet")
    since = (
        _sum(CreditEntry.amount)
        .join(CreditTransaction, CreditTransaction.id == CreditEntry.transaction_id)
        .where(_since(moment), CreditEntry.balance_after.is_not(None))
    )
    return await _less_since(session, now, since)


async def _held_at(session: AsyncSession, moment: datetime) -> int:
    """What the `held` account held at `moment`: its entries' sum (it keeps no balance)."""
    now = _sum(CreditEntry.amount).where(CreditEntry.account_id == HELD_ACCOUNT_ID)
    since = (
        _sum(CreditEntry.amount)
        .join(CreditTransaction, CreditTransaction.id == CreditEntry.transaction_id)
        .where(_since(moment), CreditEntry.account_id == HELD_ACCOUNT_ID)
    )
    return await _less_since(session, now, since)


def _group(moment: datetime) -> ColumnElement[str]:
    """Lapsed at `moment` whatever its source, else promotional, else other."""
    lapsed = CreditGrant.expires_at.is_not(None) & (CreditGrant.expires_at <= moment)
    return case(
        (lapsed, literal(LAPSED)),
        (CreditGrant.source.in_(PROMOTIONAL), literal(PROMOTION)),
        else_=literal(OTHER),
    )


async def _grants_at(session: AsyncSession, moment: datetime) -> dict[str, int]:
    """What grants held at `moment`, per `_group`; `other` is left out (not needed)."""
    group = _group(moment)
    wanted = group != OTHER
    now = (
        select(group, func.sum(CreditGrant.remaining))
        .where(CreditGrant.status == ACTIVE, wanted)  # the others hold nothing now
        .group_by(group)
    )
    since = (
        select(group, func.sum(CreditGrantEntry.amount))
        .join(CreditTransaction, CreditTransaction.id == CreditGrantEntry.transaction_id)
        .join(CreditGrant, CreditGrant.id == CreditGrantEntry.grant_id)
        .where(_since(moment), wanted)
        .group_by(group)
    )
    totals = {name: int(total) for name, total in await session.execute(now)}
    for name, moved in await session.execute(since):
        totals[name] = totals.get(name, 0) - int(moved)
    return totals
