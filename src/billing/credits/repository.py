"""SQL for the ledger. Each function is one statement; the service composes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.grants import consumption_order, lapsed, spendable
from billing.credits.models import (
    ACTIVE,
    EXPIRED,
    CreditAccount,
    CreditEntry,
    CreditGrant,
    CreditGrantEntry,
    CreditTransaction,
)
from billing.db.statements import upsert

MAX_WALLET_BALANCE = 2**53 - 1


@dataclass(frozen=True, slots=True)
class WalletState:
    account_id: int
    balance: int


async def credit_wallet(
    session: AsyncSession, user_id: int, amount: int, now: datetime
) -> WalletState | None:
    """Add to a wallet, creating it on first use; None if the balance would overflow."""
    insert_wallet = upsert(session.get_bind().dialect.name, CreditAccount).values(
        kind="wallet", user_id=user_id, balance=amount, created_at=now, updated_at=now
    )
    new_balance = CreditAccount.balance + insert_wallet.excluded.balance
    statement = insert_wallet.on_conflict_do_update(
        index_elements=[CreditAccount.user_id],
        set_={"balance": new_balance, "updated_at": insert_wallet.excluded.updated_at},
        where=new_balance <= MAX_WALLET_BALANCE,
    ).returning(CreditAccount.id, CreditAccount.balance)
    row = (await session.execute(statement)).one_or_none()
    return WalletState(row.id, row.balance) if row else None


async def wallet(session: AsyncSession, user_id: int) -> CreditAccount | None:
    return await session.scalar(
        select(CreditAccount).where(
            CreditAccount.user_id == user_id, CreditAccount.kind == "wallet"
        )
    )


# What a wallet watches for (`credits.watch`): its columns, in `watch.Watched`'s order.
WATCHED = (
    CreditAccount.user_id,
    CreditAccount.low_balance_threshold,
    CreditAccount.alert_level,
    CreditAccount.topup_threshold,
    CreditAccount.topup_pending,
    CreditAccount.topup_resumes_at,
)


async def watched_wallet(session: AsyncSession, account_id: int) -> Row[Any]:
    """What the wallet watches for, read fresh inside the posting."""
    statement = select(*WATCHED).where(CreditAccount.id == account_id)
    return cast(Row[Any], (await session.execute(statement)).one())


async def update_wallet(session: AsyncSession, account_id: int, values: dict[str, Any]) -> None:
    await session.execute(
        update(CreditAccount).where(CreditAccount.id == account_id).values(**values)
    )


async def update_wallet_of(session: AsyncSession, user_id: int, values: dict[str, Any]) -> None:
    await session.execute(
        update(CreditAccount)
        .where(CreditAccount.user_id == user_id, CreditAccount.kind == "wallet")
        .values(**values)
    )


async def take_topup_requests(session: AsyncSession, limit: int) -> list[int]:
    """Users whose wallets ask for an auto top-up; each request is cleared as it is taken."""
    asking = (
        select(CreditAccount.id)
        .where(CreditAccount.topup_requested_at.is_not(None))
        .order_by(CreditAccount.topup_requested_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    taken = (
        update(CreditAccount)
        .where(CreditAccount.id.in_(asking.scalar_subquery()))
        .values(topup_requested_at=None)
        .returning(CreditAccount.user_id)
    )
    return [cast(int, user_id) for user_id in (await session.scalars(taken)).all()]


async def insert_transaction(session: AsyncSession, values: dict[str, Any]) -> int:
    statement = insert(CreditTransaction).values(**values).returning(CreditTransaction.id)
    transaction_id: int = (await session.execute(statement)).scalar_one()
    return transaction_id


async def insert_entries(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    await session.execute(insert(CreditEntry).values(entries))


async def insert_grant_entries(
    session: AsyncSession, transaction_id: int, moved: list[tuple[int, int]]
) -> None:
    """Which grants a transaction moved, and by how much (signed, as the wallet entry)."""
    await session.execute(
        insert(CreditGrantEntry).values(
            [
                {"transaction_id": transaction_id, "grant_id": grant_id, "amount": amount}
                for grant_id, amount in moved
            ]
        )
    )


async def lock_wallet(session: AsyncSession, user_id: int) -> int | None:
    """The wallet's id, its row locked for the caller's transaction; None: no wallet."""
    account_id: int | None = await session.scalar(
        select(CreditAccount.id)
        .where(CreditAccount.user_id == user_id, CreditAccount.kind == "wallet")
        .with_for_update()
    )
    return account_id


async def spendable_credits(session: AsyncSession, account_id: int, now: datetime) -> int:
    """What the wallet's spendable grants hold: all a debit can take at `now`."""
    return await _held_by(session, account_id, spendable(now))


async def first_grant_with_reference(
    session: AsyncSession, user_id: int, reference: str
) -> CreditGrant | None:
    """The user's oldest grant opened under `reference`, whatever its status."""
    found: CreditGrant | None = await session.scalar(
        select(CreditGrant)
        .where(CreditGrant.user_id == user_id, CreditGrant.reference == reference)
        .order_by(CreditGrant.id)
        .limit(1)
    )
    return found


async def lapsed_credits(session: AsyncSession, account_id: int, now: datetime) -> int:
    """What the wallet's expired, not yet swept grants still hold: not the user's."""
    return await _held_by(session, account_id, lapsed(now))


async def spendable_after(
    session: AsyncSession, account_id: int, balance: int, now: datetime
) -> int:
    """What a wallet holding `balance` can spend at `now`: less its lapsed, unswept grants.
    Every posting answers it."""
    return balance - await lapsed_credits(session, account_id, now)


async def _held_by(session: AsyncSession, account_id: int, which: ColumnElement[bool]) -> int:
    """What the wallet's grants that match `which` hold."""
    total = await session.scalar(
        select(func.coalesce(func.sum(CreditGrant.remaining), 0)).where(
            CreditGrant.account_id == account_id, which
        )
    )
    return int(total or 0)


async def next_expiring(
    session: AsyncSession, account_id: int, now: datetime, limit: int
) -> list[tuple[int, datetime]]:
    """(credits, when) of the next `limit` expiry times of the wallet's spendable grants."""
    statement = (
        select(func.sum(CreditGrant.remaining), CreditGrant.expires_at)
        .where(
            CreditGrant.account_id == account_id,
            spendable(now),
            CreditGrant.expires_at.is_not(None),
        )
        .group_by(CreditGrant.expires_at)
        .order_by(CreditGrant.expires_at)
        .limit(limit)
    )
    return [(int(total), cast(datetime, at)) for total, at in await session.execute(statement)]


async def grants_of(
    session: AsyncSession, user_id: int, status: str | None, now: datetime
) -> Sequence[CreditGrant]:
    """A user's grants in consumption order; `status` as of `now` (None: all)."""
    statement = select(CreditGrant).where(CreditGrant.user_id == user_id)
    if status == ACTIVE:
        statement = statement.where(spendable(now))
    elif status == EXPIRED:
        statement = statement.where(or_(CreditGrant.status == EXPIRED, lapsed(now)))
    elif status is not None:
        statement = statement.where(CreditGrant.status == status)
    return (await session.scalars(statement.order_by(*consumption_order()))).all()


async def grant_of(session: AsyncSession, user_id: int, grant_id: int) -> CreditGrant | None:
    found: CreditGrant | None = await session.scalar(
        select(CreditGrant).where(CreditGrant.id == grant_id, CreditGrant.user_id == user_id)
    )
    return found


async def lapsed_grants(
    session: AsyncSession, now: datetime, limit: int
) -> list[tuple[int, int, int]]:
    """(id, user id, remaining) of grants still active past their expiry, oldest first."""
    statement = (
        select(CreditGrant.id, CreditGrant.user_id, CreditGrant.remaining)
        .where(lapsed(now))
        .order_by(CreditGrant.expires_at, CreditGrant.id)
        .limit(limit)
    )
    return [(row.id, row.user_id, row.remaining) for row in await session.execute(statement)]


async def grant_opened_by(session: AsyncSession, transaction_id: int) -> int | None:
    grant_id: int | None = await session.scalar(
        select(CreditGrant.id).where(CreditGrant.transaction_id == transaction_id)
    )
    return grant_id


_WALLET_ENTRY_JOIN = and_(
    CreditEntry.transaction_id == CreditTransaction.id,
    CreditEntry.balance_after.is_not(None),
)


async def transaction_by_key(
    session: AsyncSession, idempotency_key: str
) -> Row[CreditTransaction, int | None] | None:
    """A transaction and the wallet balance right after it (None if it moved nothing in or
    out of the wallet: a hold's whole capture), by idempotency key."""
    statement = (
        select(CreditTransaction, CreditEntry.balance_after)
        .outerjoin(CreditEntry, _WALLET_ENTRY_JOIN)
        .where(CreditTransaction.idempotency_key == idempotency_key)
    )
    return (await session.execute(statement)).first()


async def wallet_history(
    session: AsyncSession, account_id: int, before_id: int | None, limit: int
) -> Sequence[Row[CreditTransaction, int, int | None]]:
    """A wallet's transactions, newest first, with the signed change and balance after."""
    statement = (
        select(CreditTransaction, CreditEntry.amount, CreditEntry.balance_after)
        .join(CreditEntry, CreditEntry.transaction_id == CreditTransaction.id)
        .where(CreditEntry.account_id == account_id)
        .order_by(CreditEntry.transaction_id.desc())
        .limit(limit)
    )
    if before_id is not None:
        statement = statement.where(CreditEntry.transaction_id < before_id)
    return (await session.execute(statement)).all()
