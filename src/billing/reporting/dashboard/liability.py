"""The credit liability at an instant: what users could still spend, split by where the
credits came from, and what active holds reserved for them.

What wallets, `held` and promotional grants held at an instant is what every transaction
before it moved into them less what it moved out: the ledger's closed-day net sums
(`credits.rollups`) as far as they go, its rows after. Grants (migration 0011) say where
credits came from and when they lapse, so the credits of grants past their `expires_at`
at the instant are taken out (a lapsed grant is no liability, swept or not), and the
promotional part is given apart; the rest is paid. Reading `paid` as that remainder keeps
it exact for instants before grants existed: the balances 0011 carried over opened
`purchase` grants, paid ones. Held credits left their grants for the `held` system
account: still the users' credits, counted apart.

A lapsed grant's `remaining` at a past instant is its `remaining` now less its grant
entries of transactions created since: the few grants past expiry that the sweep has not
emptied yet, and those it emptied since the instant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BindParameter, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.grants import PROMOTIONAL
from billing.credits.models import ACTIVE, CreditGrant, CreditGrantEntry, CreditTransaction
from billing.credits.rollups.queries import HELD_NET, PROMOTIONAL_NET, WALLETS_NET


@dataclass(frozen=True, slots=True)
class Liability:
    paid: int
    promotional: int
    held: int

    @property
    def total(self) -> int:
        return self.paid + self.promotional + self.held


@dataclass(frozen=True, slots=True)
class Lapsed:
    """What grants past their `expires_at` held: all of them, and the promotional ones."""

    total: int = 0
    promotional: int = 0


async def liability_at(
    session: AsyncSession, net: Mapping[str, int], moment: datetime, past: bool
) -> Liability:
    """The liability at `moment` from `net` (`ledger.LedgerSums.net_before`): the ledger's
    sums of every transaction before `moment`, a past midnight (`past`); or, when
    `moment` is now, of every transaction the reading sees, as the grants it reads are
    (one stamped after `moment` is then in both, or in neither)."""
    lapsed = await _lapsed_at(session, moment, past)
    promotional = net.get(PROMOTIONAL_NET, 0) - lapsed.promotional
    return Liability(
        paid=net.get(WALLETS_NET, 0) - lapsed.total - promotional,
        promotional=promotional,
        held=net.get(HELD_NET, 0),
    )


MOMENT: BindParameter[datetime] = bindparam("moment")
PROMOTIONAL_GRANT = CreditGrant.source.in_(PROMOTIONAL)
LAPSED = CreditGrant.expires_at.is_not(None) & (CreditGrant.expires_at <= MOMENT)
# The grants the expiry sweep has not emptied yet: its index finds them.
LAPSED_NOW = (
    select(PROMOTIONAL_GRANT, func.sum(CreditGrant.remaining))
    .where(CreditGrant.status == ACTIVE, LAPSED)
    .group_by(PROMOTIONAL_GRANT)
)
LAPSED_SINCE = (
    select(PROMOTIONAL_GRANT, func.sum(CreditGrantEntry.amount))
    .join(CreditTransaction, CreditTransaction.id == CreditGrantEntry.transaction_id)
    .join(CreditGrant, CreditGrant.id == CreditGrantEntry.grant_id)
    .where(CreditTransaction.created_at >= MOMENT, LAPSED)
    .group_by(PROMOTIONAL_GRANT)
)


async def _lapsed_at(session: AsyncSession, moment: datetime, past: bool) -> Lapsed:
    """What grants past their `expires_at` at `moment` held then; as they stand, unless
    `moment` is `past` (then less what moved them since)."""
    at = {"moment": moment}
    held = {True: 0, False: 0}
    for is_promotional, amount in await session.execute(LAPSED_NOW, at):
        held[bool(is_promotional)] += int(amount)
    for is_promotional, amount in await session.execute(LAPSED_SINCE, at) if past else []:
        held[bool(is_promotional)] -= int(amount)
    return Lapsed(total=held[True] + held[False], promotional=held[True])
