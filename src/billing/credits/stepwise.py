"""Posting as separate statements in the session's open transaction (SQLite).

SQLite serializes writers at `BEGIN IMMEDIATE`, so what is read here cannot change before
the writes that follow; PostgreSQL posts the same way in one round trip instead
(`single_statement`). Either way a posting is: (idempotency check) -> grants -> wallet
UPDATE -> transaction INSERT -> entries and grant entries INSERT -> audit entry INSERT.

Concurrent spends without a client key are committed in groups (`SPENDS`): each in a
transaction of its own took the process's one write turn, and a commit, per spend.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billing.core import correlation
from billing.credits import events, repository, sqlite_debit, watch
from billing.credits.accounts import EXPIRY
from billing.credits.transfers import Transfer
from billing.db.engine import LOW_BALANCE_THRESHOLD, Database
from billing.db.group_commit import GroupCommit
from billing.db.sqlite_driver import sqlite3_connection

Outcome = tuple[int, int, int, int | None] | None  # (transaction, balance, amount, grant)
Posting = tuple[Transfer, str, datetime]  # the transfer, its ledger key, its time


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
    connection = await sqlite3_connection(session)
    moved = (state.account_id, transfer.amount, state.balance)
    transaction_id = sqlite_debit.record(connection, transfer, key, now, moved, _context(session))
    grant_id = await repository.open_grant(session, state.account_id, transfer, transaction_id, now)
    await repository.insert_grant_entries(session, transaction_id, [(grant_id, transfer.amount)])
    balance = await repository.spendable_after(session, state.account_id, state.balance, now)
    await watch.balance_moved(session, state.account_id, balance, now, debit=False)
    events.granted(session, transfer, grant_id, transaction_id, balance, now)
    return transaction_id, balance, transfer.amount, grant_id


async def _debit(session: AsyncSession, transfer: Transfer, key: str, now: datetime) -> Outcome:
    connection = await sqlite3_connection(session)
    debited = sqlite_debit.debit(connection, transfer, key, now, _context(session))
    if debited is None:
        return None
    watch.tell(session, transfer.user_id, debited.moved, now)
    posted = (debited.transaction_id, debited.balance, debited.amount)
    if transfer.kind is EXPIRY and transfer.grant_id is not None:  # the sweep's, of a grant
        events.expired(session, transfer, posted, now)
    return *posted, None


def _context(session: AsyncSession) -> sqlite_debit.Context:
    return sqlite_debit.Context(
        correlation.current(), correlation.caller(), session.info.get(LOW_BALANCE_THRESHOLD)
    )


async def _apply_alone(database: Database, posting: Posting) -> Outcome:
    async with database.sessions() as session, session.begin():
        return await apply(session, *posting)


async def _apply_together(database: Database, postings: list[Posting]) -> list[Outcome]:
    """In order, in one transaction: each sees what the ones before it took."""
    async with database.sessions() as session, session.begin():
        return [await apply(session, *posting) for posting in postings]


# Unkeyed spends, committed in groups (see group_commit.py).
SPENDS = GroupCommit(_apply_alone, _apply_together, order=lambda posting: posting[0].user_id)
