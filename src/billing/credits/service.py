"""Posting credit transactions: one short database transaction each.

Every public function here ends its database transaction before returning,
and reads run outside one, so no caller is left holding locks (SQLite takes its
write lock at BEGIN). A posting is: (idempotency check) -> wallet UPDATE ->
transaction INSERT -> entries INSERT -> audit entry INSERT, committed together: one
statement on PostgreSQL (see `single_statement.py`; concurrent unkeyed spends are committed
in groups), a `BEGIN IMMEDIATE` transaction on SQLite. Debits use a conditional UPDATE
(`balance >= amount`), so concurrent spends on one wallet serialize on its row and can
never take it below zero. A transaction's idempotency key is unique:
replaying it returns the original result; reusing it for a different
operation is an idempotency conflict.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.core.errors import Conflict, IdempotencyConflict, InsufficientCredits
from billing.core.pagination import decode_cursor, encode_cursor
from billing.core.times import utcnow
from billing.credits import repository, single_statement
from billing.credits.hooks import HOOKS
from billing.credits.models import CreditTransaction
from billing.credits.transfers import POSTED_FACTS, Posted, Transfer
from billing.db.after_commit import after_commit
from billing.db.engine import Database
from billing.db.statements import read_without_transaction


async def post(database: Database, transfer: Transfer) -> Posted:
    """Post in a transaction of its own, committed before this returns."""
    key = transfer.idempotency_key or f"auto:{uuid.uuid4().hex}"
    now = utcnow()
    if database.dialect == "postgresql":
        posted = await _post_on_postgres(database, transfer, key, now)
    else:
        async with database.sessions() as session, session.begin():
            posted = await _apply(session, transfer, key, now)
    if posted is None:
        async with database.sessions() as session:
            await read_without_transaction(session)
            return await _explain_refusal(session, transfer)
    HOOKS.announce_posted(transfer)
    return _posted(transfer, posted, now)


async def post_within(session: AsyncSession, transfer: Transfer) -> Posted:
    """Post inside the caller's open transaction (a webhook handler's), so the credits
    commit or roll back together with the caller's other writes."""
    key = transfer.idempotency_key or f"auto:{uuid.uuid4().hex}"
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        posted = await single_statement.post_in_transaction(session, transfer, key, now)
    else:
        posted = await _apply(session, transfer, key, now)
    if posted is None:
        return await _explain_refusal(session, transfer)
    # Announced once the caller's transaction commits: a rolled-back attempt posted nothing.
    after_commit(session, partial(HOOKS.announce_posted, transfer))
    return _posted(transfer, posted, now)


async def _post_on_postgres(
    database: Database, transfer: Transfer, key: str, now: datetime
) -> single_statement.Outcome:
    arguments = single_statement.arguments_for(transfer, key, now)
    if transfer.idempotency_key is None and not transfer.kind.credits_wallet:
        return await single_statement.SPENDS.write(database, arguments)
    return await single_statement.post_once(
        database, single_statement.statement_for(transfer), arguments
    )


def _posted(transfer: Transfer, posted: tuple[int, int], now: datetime) -> Posted:
    transaction_id, balance_after = posted
    return Posted(transaction_id, transfer.user_id, transfer.amount, balance_after, now)


async def _apply(
    session: AsyncSession, transfer: Transfer, key: str, now: datetime
) -> tuple[int, int] | None:
    """The posting as statements in the session's transaction, on either database:
    (transaction id, wallet balance after), or None if refused."""
    if transfer.idempotency_key and await repository.transaction_by_key(session, key):
        return None
    if transfer.kind.credits_wallet:
        state = await repository.credit_wallet(session, transfer.user_id, transfer.amount, now)
    else:
        state = await repository.debit_wallet(session, transfer.user_id, transfer.amount, now)
    if state is None:
        return None
    transaction_id = await repository.insert_transaction(
        session,
        {
            "kind": transfer.kind.name,
            "user_id": transfer.user_id,
            "amount": transfer.amount,
            "idempotency_key": key,
            "fingerprint": transfer.fingerprint,
            "actor": transfer.actor,
            "reference": transfer.reference,
            "description": transfer.description,
            "metadata_": transfer.metadata,
            "expires_at": transfer.expires_at,
            "created_at": now,
        },
    )
    await repository.insert_entries(
        session,
        [
            {
                "transaction_id": transaction_id,
                "account_id": state.account_id,
                "amount": transfer.wallet_delta,
                "balance_after": state.balance,
            },
            {
                "transaction_id": transaction_id,
                "account_id": transfer.kind.system_account_id,
                "amount": -transfer.wallet_delta,
                "balance_after": None,
            },
        ],
    )
    entry = transfer.audit_entry()
    facts = dict(zip(POSTED_FACTS, (transaction_id, state.balance), strict=True))
    await audit.record_entry(session, replace(entry, details={**(entry.details or {}), **facts}))
    return transaction_id, state.balance


async def _explain_refusal(session: AsyncSession, transfer: Transfer) -> Posted:
    """Nothing was posted: the key was used before, or the wallet could not take it."""
    if transfer.idempotency_key is not None:
        replay = await _replay(session, transfer)
        if replay is not None:
            return replay
    if transfer.kind.credits_wallet:
        raise Conflict("This would take the balance above the largest allowed value.")
    HOOKS.announce_refused(transfer)
    current = await _balance(session, transfer.user_id)
    raise InsufficientCredits(balance=current.balance, required=transfer.amount)


async def _replay(session: AsyncSession, transfer: Transfer) -> Posted | None:
    assert transfer.idempotency_key is not None
    found = await repository.transaction_by_key(session, transfer.idempotency_key)
    if found is None:
        return None
    original, balance_after = found  # wallet entries always record it; verify-ledger checks
    if original.fingerprint != transfer.fingerprint:
        raise IdempotencyConflict("This idempotency key was used for a different credit operation.")
    return Posted(
        original.id,
        original.user_id,
        original.amount,
        cast(int, balance_after),
        original.created_at,
        replayed=True,
    )


@dataclass(frozen=True, slots=True)
class Balance:
    user_id: int
    balance: int
    updated_at: datetime | None


async def balance(session: AsyncSession, user_id: int) -> Balance:
    await read_without_transaction(session)
    return await _balance(session, user_id)


async def _balance(session: AsyncSession, user_id: int) -> Balance:
    """A user without a wallet yet simply has none: balance 0."""
    account = await repository.wallet(session, user_id)
    if account is None:
        return Balance(user_id, 0, None)
    return Balance(user_id, account.balance or 0, account.updated_at)


@dataclass(frozen=True, slots=True)
class HistoryItem:
    transaction: CreditTransaction
    change: int
    balance_after: int


async def history(
    session: AsyncSession, user_id: int, cursor: str | None, limit: int
) -> tuple[list[HistoryItem], str | None]:
    """One page of a wallet's transactions, newest first, and the cursor of the next page."""
    before = decode_cursor(cursor)
    await read_without_transaction(session)
    account = await repository.wallet(session, user_id)
    if account is None:
        return [], None
    rows = await repository.wallet_history(session, account.id, before, limit + 1)
    items = [HistoryItem(t, change, cast(int, after)) for t, change, after in rows[:limit]]
    next_cursor = encode_cursor(items[-1].transaction.id) if len(rows) > limit else None
    return items, next_cursor
