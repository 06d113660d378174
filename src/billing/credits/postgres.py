"""Posting on PostgreSQL in one statement: one round trip, no explicit transaction.

Data-modifying CTEs let the wallet update, the transaction and its entries be
one atomic statement. The wallet CTE returns no row when the key was already
used, the balance is too low (debit) or would overflow (credit); the caller
then explains the refusal. Two racing postings with one key serialize on the
wallet row and the loser fails on the unique key, which the caller replays.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.repository import MAX_WALLET_BALANCE
from billing.db import AUTOCOMMIT

if TYPE_CHECKING:
    from billing.credits.service import Transfer

KEY_UNUSED = "NOT EXISTS (SELECT 1 FROM credit_transactions WHERE idempotency_key = :key)"
DEBIT_WALLET = f"""
    UPDATE credit_accounts SET balance = balance - :amount, updated_at = :now
    WHERE user_id = :user_id AND kind = 'wallet' AND balance >= :amount AND {KEY_UNUSED}
    RETURNING id, balance
"""  # noqa: S608 (constants only)
CREDIT_WALLET = f"""
    INSERT INTO credit_accounts (kind, user_id, balance, created_at, updated_at)
    SELECT 'wallet', :user_id, :amount, :now, :now WHERE {KEY_UNUSED}
    ON CONFLICT (user_id) DO UPDATE
        SET balance = credit_accounts.balance + excluded.balance, updated_at = excluded.updated_at
        WHERE credit_accounts.balance + excluded.balance <= {MAX_WALLET_BALANCE}
    RETURNING id, balance
"""  # noqa: S608 (constants only)
POSTING = """
WITH wallet AS ({wallet}),
txn AS (
    INSERT INTO credit_transactions (kind, user_id, amount, idempotency_key, fingerprint, actor,
                                     reference, description, metadata, expires_at, created_at)
    SELECT CAST(:kind AS VARCHAR), :user_id, :amount, CAST(:key AS VARCHAR),
           CAST(:fingerprint AS VARCHAR), CAST(:actor AS VARCHAR), CAST(:reference AS VARCHAR),
           CAST(:description AS VARCHAR), CAST(:metadata AS JSONB),
           CAST(:expires_at AS TIMESTAMPTZ), CAST(:now AS TIMESTAMPTZ)
    FROM wallet
    RETURNING id
),
entries AS (
    INSERT INTO credit_entries (transaction_id, account_id, amount, balance_after)
    SELECT txn.id, wallet.id, CAST(:delta AS BIGINT), wallet.balance FROM txn, wallet
    UNION ALL
    SELECT txn.id, CAST(:system_account AS BIGINT), -CAST(:delta AS BIGINT), NULL FROM txn
)
SELECT txn.id, wallet.balance FROM txn, wallet
"""
DEBIT = text(POSTING.format(wallet=DEBIT_WALLET))
CREDIT = text(POSTING.format(wallet=CREDIT_WALLET))


async def post_once(
    session: AsyncSession, transfer: Transfer, key: str, now: datetime
) -> tuple[int, int] | None:
    """(transaction id, wallet balance after), or None if nothing was posted."""
    connection = await session.connection(execution_options={"isolation_level": AUTOCOMMIT})
    statement = CREDIT if transfer.kind.credits_wallet else DEBIT
    row = (
        await connection.execute(
            statement,
            {
                "kind": transfer.kind.name,
                "user_id": transfer.user_id,
                "amount": transfer.amount,
                "key": key,
                "fingerprint": transfer.fingerprint,
                "actor": transfer.actor,
                "reference": transfer.reference,
                "description": transfer.description,
                "metadata": orjson.dumps(transfer.metadata).decode() if transfer.metadata else None,
                "expires_at": transfer.expires_at,
                "now": now,
                "delta": transfer.wallet_delta,
                "system_account": transfer.kind.system_account_id,
            },
        )
    ).first()
    await session.commit()  # ends the session's hold on the connection; no COMMIT is sent
    return (row.id, row.balance) if row else None
