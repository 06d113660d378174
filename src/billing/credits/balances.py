"""What a user's wallet holds now: a read, outside any transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.times import utcnow
from billing.credits import hold_repository, repository
from billing.db.statements import read_without_transaction

EXPIRING_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Expiring:
    amount: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Balance:
    """`balance` can be spent now; `held` is reserved by active holds; `expiring` is the
    next grants to expire, soonest first."""

    user_id: int
    balance: int
    updated_at: datetime | None
    held: int = 0
    expiring: tuple[Expiring, ...] = ()


async def balance(session: AsyncSession, user_id: int) -> Balance:
    await read_without_transaction(session)
    return await _balance(session, user_id)


async def _balance(session: AsyncSession, user_id: int) -> Balance:
    """A user without a wallet yet simply has none: balance 0. Grants past their expiry
    count for nothing, whether or not the expiry job has swept them."""
    account = await repository.wallet(session, user_id)
    if account is None:
        return Balance(user_id, 0, None)
    now = utcnow()
    expiring = await repository.next_expiring(session, account.id, now, EXPIRING_SHOWN)
    return Balance(
        user_id,
        await repository.spendable_after(session, account.id, account.balance or 0, now),
        account.updated_at,
        held=await hold_repository.held(session, user_id),
        expiring=tuple(Expiring(amount, at) for amount, at in expiring),
    )
