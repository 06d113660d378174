"""Posting as separate statements in the session's open transaction (SQLite).

SQLite serializes writers at `BEGIN IMMEDIATE`, so what is read here cannot change before
the writes that follow; PostgreSQL posts the same way in one round trip instead
(`single_statement`). Either way a posting is: (idempotency check) -> grants -> wallet
UPDATE -> transaction INSERT -> entries and grant entries INSERT -> audit entry INSERT.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.credits import events, repository, watch
from billing.credits.accounts import EXPIRY
from billing.credits.grants import allocate
from billing.credits.transfers import POSTED_FACTS, Transfer

Outcome = tuple[int, int, int, int | None] | None  # (transaction, balance, amount, grant)


async def apply(session: AsyncSession, transfer: Transfer, key: str, now: datetime) -> Outcome:
    """The posting; None if refused (key used, too few credits, nothing left to take)."""
    if transfer.idempotency_key and await repository.transaction_by_key(session, key):
        return None
    if transfer.kind.credits_wallet:
        return await _credit(session, transfer, key, now)
    return await _debit(session, transfer, key, now)


async def _credit(session: AsyncSession, transfer: Transfer, key: str, now: datetime) -> Outcome:
    state = await repository.credit_wallet(session, transfer.user_id, transfer.amount, now)
    if state is None:
        return None
    transaction_id = await _record(session, transfer, key, now, transfer.amount, state)
    grant_id = await repository.open_grant(session, state.account_id, transfer, transaction_id, now)
    await repository.insert_grant_entries(session, transaction_id, [(grant_id, transfer.amount)])
    balance = await repository.spendable_after(session, state.account_id, state.balance, now)
    await watch.balance_moved(session, state.account_id, balance, now, debit=False)
    events.granted(session, transfer, grant_id, transaction_id, balance, now)
    return transaction_id, balance, transfer.amount, grant_id


async def _debit(session: AsyncSession, transfer: Transfer, key: str, now: datetime) -> Outcome:
    account = await repository.wallet(session, transfer.user_id)
    if account is None:
        return None
    if transfer.grant_id is not None:
        available = await repository.whole_grant(session, account.id, transfer.grant_id)
        amount = sum(remaining for _, remaining in available)
    else:
        available = await repository.spendable_grants(
            session, account.id, now, transfer.prefer_reference
        )
        amount = transfer.amount
        if sum(remaining for _, remaining in available) < amount:
            return None
    if amount <= 0:
        return None
    taken = allocate(available, amount)
    await repository.take_from_grants(session, taken, now, transfer.kind.ends_grant)
    state = await repository.debit_wallet(session, transfer.user_id, amount, now)
    assert state is not None, "a wallet holds at least its grants"
    transaction_id = await _record(session, transfer, key, now, amount, state)
    await repository.insert_grant_entries(
        session, transaction_id, [(grant_id, -take) for grant_id, take in taken]
    )
    balance = await repository.spendable_after(session, state.account_id, state.balance, now)
    await watch.balance_moved(session, state.account_id, balance, now, debit=True)
    if transfer.kind is EXPIRY and transfer.grant_id is not None:  # the sweep's, of a grant
        events.expired(session, transfer, (transaction_id, balance, amount), now)
    return transaction_id, balance, amount, None


async def _record(
    session: AsyncSession,
    transfer: Transfer,
    key: str,
    now: datetime,
    amount: int,
    state: repository.WalletState,
) -> int:
    """The transaction, its two entries and its audit entry."""
    transaction_id = await repository.insert_transaction(
        session,
        {
            "kind": transfer.kind.name,
            "user_id": transfer.user_id,
            "amount": amount,
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
    change = amount if transfer.kind.credits_wallet else -amount
    await repository.insert_entries(
        session,
        [
            {
                "transaction_id": transaction_id,
                "account_id": state.account_id,
                "amount": change,
                "balance_after": state.balance,
            },
            {
                "transaction_id": transaction_id,
                "account_id": transfer.kind.system_account_id,
                "amount": -change,
                "balance_after": None,
            },
        ],
    )
    entry = transfer.audit_entry()
    facts = dict(zip(POSTED_FACTS, (transaction_id, state.balance), strict=True))
    details = {**(entry.details or {}), "amount": amount, **facts}
    await audit.record_entry(session, replace(entry, details=details))
    return transaction_id
