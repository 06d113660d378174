"""Posting credit transactions: one short database transaction each.

Every public function here ends its database transaction before returning,
and reads run outside one, so no caller is left holding locks (SQLite takes its
write lock at BEGIN). A posting is: (idempotency check) -> grants -> wallet UPDATE ->
transaction INSERT -> entries INSERT -> audit entry INSERT, committed together: one
round trip on PostgreSQL (see `single_statement.py`), a `BEGIN IMMEDIATE` transaction on
SQLite (`stepwise.py`); on both, concurrent unkeyed spends are committed in groups. Debits lock the
wallet row first, so concurrent spends on one wallet serialize on it and can never take
more than its spendable grants hold. A transaction's idempotency key is unique:
replaying it returns the original result; reusing it for a different
operation is an idempotency conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.errors import Conflict, IdempotencyConflict, InsufficientCredits
from billing.core.ids import FreshIds
from billing.core.pagination import decode_cursor, encode_cursor
from billing.core.times import utcnow
from billing.credits import repository, single_statement, stepwise
from billing.credits.grants import GrantTerms
from billing.credits.hooks import HOOKS
from billing.credits.models import CreditTransaction
from billing.credits.transfers import Posted, Transfer
from billing.db.after_commit import after_commit
from billing.db.conflicts import lost_a_conflict
from billing.db.engine import Database
from billing.db.statements import read_without_transaction

# The service's own ledger keys: 128 random bits per process, so none is ever another's.
_LEDGER_KEYS = FreshIds(16)


def transaction_key(idempotency_key: str | None) -> str:
    """The ledger key of a posting: the caller's, else a fresh one of the service's own."""
    return idempotency_key or f"auto:{_LEDGER_KEYS.next()}"


async def post(database: Database, transfer: Transfer) -> Posted:
    """Post in a transaction of its own, committed before this returns."""
    key = transaction_key(transfer.idempotency_key)
    now = utcnow()
    if database.dialect == "postgresql":
        posted = await _post_on_postgres(database, transfer, key, now)
    elif _groupable(transfer):
        posted = await stepwise.SPENDS.write(database, (transfer, key, now))
    else:
        async with database.sessions() as session, session.begin():
            posted = await stepwise.apply(session, transfer, key, now)
    if posted is None:
        return await refused(database, transfer)
    HOOKS.announce_posted(transfer)
    return posted_as(transfer, posted, now)


async def refused(database: Database, transfer: Transfer) -> Posted:
    """`transfer` posted nothing: the original posting if its key was used for the same
    operation; else the error to answer with (409, or 402 `insufficient_credits`)."""
    async with database.sessions() as session:
        await read_without_transaction(session)
        return await _explain_refusal(session, transfer)


async def post_within(session: AsyncSession, transfer: Transfer) -> Posted:
    """Post inside the caller's open transaction (a webhook handler's), so the credits
    commit or roll back together with the caller's other writes."""
    key = transaction_key(transfer.idempotency_key)
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        posted = await single_statement.post_in_transaction(session, transfer, key, now)
    else:
        posted = await stepwise.apply(session, transfer, key, now)
    if posted is None:
        return await _explain_refusal(session, transfer)
    # Announced once the caller's transaction commits: a rolled-back attempt posted nothing.
    after_commit(session, partial(HOOKS.announce_posted, transfer))
    return posted_as(transfer, posted, now)


Refusal = InsufficientCredits | IdempotencyConflict


async def post_batch(database: Database, debits: list[Transfer]) -> list[Posted | Refusal]:
    """Keyed debits of one kind and actor, each atomic on its own and answered as if posted
    alone, committed together (one statement on PostgreSQL, one transaction on SQLite).
    A key that another request commits meanwhile is answered as that request's posting;
    one that fails the statement instead (`single_statement.post_many`), or a deadlock,
    writes none of them: they are then posted one by one."""
    now = utcnow()
    try:
        outcomes = await _post_together(database, debits, now)
    except Exception as exc:
        if not (single_statement.key_raced(exc) or lost_a_conflict(exc)):
            raise
        return [await post_alone(database, debit) for debit in debits]
    answers: list[Posted | Refusal] = []
    async with database.sessions() as session:
        await read_without_transaction(session)
        for debit, outcome in zip(debits, outcomes, strict=True):
            if outcome is not None:
                HOOKS.announce_posted(debit)
                answers.append(posted_as(debit, outcome, now))
                continue
            try:
                answers.append(await _explain_refusal(session, debit))
            except (InsufficientCredits, IdempotencyConflict) as refusal:
                answers.append(refusal)
    return answers


async def _post_together(
    database: Database, debits: list[Transfer], now: datetime
) -> list[stepwise.Outcome]:
    if database.dialect == "postgresql":
        return await single_statement.post_many(database, debits, now)
    async with database.sessions() as session, session.begin():
        return [
            await stepwise.apply(session, debit, cast(str, debit.idempotency_key), now)
            for debit in debits
        ]


async def post_alone(database: Database, debit: Transfer) -> Posted | Refusal:
    """`post`, with a refusal returned instead of raised."""
    try:
        return await post(database, debit)
    except (InsufficientCredits, IdempotencyConflict) as refusal:
        return refusal


async def _post_on_postgres(
    database: Database, transfer: Transfer, key: str, now: datetime
) -> single_statement.Outcome:
    arguments = single_statement.arguments_for(transfer, key, now)
    if _groupable(transfer):
        return await single_statement.SPENDS.write(database, arguments)
    return await single_statement.post_once(
        database, single_statement.statement_for(transfer), arguments
    )


def _groupable(transfer: Transfer) -> bool:
    """A debit under a fresh key of the service's own: committed with the others in flight
    (a client's key may have been used before, and must be checked alone)."""
    return transfer.idempotency_key is None and not transfer.kind.credits_wallet


def posted_as(
    transfer: Transfer, posted: tuple[int, int, int, int | None], now: datetime
) -> Posted:
    """What a posting of `transfer` at `now` returned, as the service answers it."""
    transaction_id, balance_after, amount, grant_id = posted
    return Posted(transaction_id, transfer.user_id, amount, balance_after, now, grant_id=grant_id)


async def _explain_refusal(session: AsyncSession, transfer: Transfer) -> Posted:
    """Nothing was posted: the key was used before, or the wallet could not take it."""
    if transfer.idempotency_key is not None:
        replay = await _replay(session, transfer)
        if replay is not None:
            return replay
    if transfer.kind.credits_wallet:
        raise Conflict("This would take the balance above the largest allowed value.")
    if transfer.grant_id is not None:
        raise Conflict("Nothing remains of this grant: it is spent, expired or voided.")
    HOOKS.announce_refused(transfer)
    account = await repository.wallet(session, transfer.user_id)
    spendable = (
        await repository.spendable_after(session, account.id, account.balance or 0, utcnow())
        if account
        else 0
    )
    raise InsufficientCredits(balance=spendable, required=transfer.amount)


async def _replay(session: AsyncSession, transfer: Transfer) -> Posted | None:
    assert transfer.idempotency_key is not None
    found = await repository.transaction_by_key(session, transfer.idempotency_key)
    if found is None:
        return None
    original, balance_after = found  # wallet entries always record it; verify-ledger checks
    if original.fingerprint != transfer.fingerprint:
        raise IdempotencyConflict("This idempotency key was used for a different credit operation.")
    credit = transfer.kind.credits_wallet  # only a credit opened a grant
    opened = await repository.grant_opened_by(session, original.id) if credit else None
    return Posted(
        original.id,
        original.user_id,
        original.amount,
        cast(int, balance_after),
        original.created_at,
        replayed=True,
        grant_id=opened,
    )


async def spendable_locked(session: AsyncSession, user_id: int) -> int:
    """What a debit can take from the wallet now, its row locked in the caller's
    transaction so no spend slips in before the caller's own debit. Expired grants the
    job has not swept yet are in the wallet's `balance` but not here: nothing spends them."""
    account_id = await repository.lock_wallet(session, user_id)
    if account_id is None:
        return 0
    return await repository.spendable_credits(session, account_id, utcnow())


async def terms_of_reference(
    session: AsyncSession, user_id: int, reference: str
) -> GrantTerms | None:
    """The terms of the first grant opened under `reference` (a payment's credits, say);
    None when there is none."""
    found = await repository.first_grant_with_reference(session, user_id, reference)
    if found is None:
        return None
    return GrantTerms(found.source, found.priority, found.expires_at)


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
