"""SQL for the ledger. Each function is one statement; the service composes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.models import CreditAccount, CreditEntry, CreditTransaction
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


async def debit_wallet(
    session: AsyncSession, user_id: int, amount: int, now: datetime
) -> WalletState | None:
    """Take from a wallet only if it holds enough; the row lock serializes spenders."""
    statement = (
        update(CreditAccount)
        .where(
            CreditAccount.user_id == user_id,
            CreditAccount.kind == "wallet",
            CreditAccount.balance >= amount,
        )
        .values(balance=CreditAccount.balance - amount, updated_at=now)
        .returning(CreditAccount.id, CreditAccount.balance)
    )
    row = (await session.execute(statement)).one_or_none()
    return WalletState(row.id, row.balance) if row else None


async def wallet(session: AsyncSession, user_id: int) -> CreditAccount | None:
    return await session.scalar(
        select(CreditAccount).where(
            CreditAccount.user_id == user_id, CreditAccount.kind == "wallet"
        )
    )


async def insert_transaction(session: AsyncSession, values: dict[str, Any]) -> int:
    statement = insert(CreditTransaction).values(**values).returning(CreditTransaction.id)
    transaction_id: int = (await session.execute(statement)).scalar_one()
    return transaction_id


async def insert_entries(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    await session.execute(insert(CreditEntry).values(entries))


_WALLET_ENTRY_JOIN = and_(
    CreditEntry.transaction_id == CreditTransaction.id,
    CreditEntry.balance_after.is_not(None),
)


async def transaction_by_key(
    session: AsyncSession, idempotency_key: str
) -> Row[CreditTransaction, int | None] | None:
    """A transaction and the wallet balance right after it, by idempotency key."""
    statement = (
        select(CreditTransaction, CreditEntry.balance_after)
        .join(CreditEntry, _WALLET_ENTRY_JOIN)
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
