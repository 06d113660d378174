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
from billing.credits import events, sqlite_posting, watch
from billing.credits.accounts import EXPIRY
from billing.credits.transfers import Transfer
from billing.db.engine import Database
from billing.db.group_commit import GroupCommit
from billing.db.server_settings import LOW_BALANCE_THRESHOLD
from billing.db.sqlite_driver import sqlite3_connection

Outcome = tuple[int, int, int, int | None] | None  # (transaction, balance, amount, grant)
Posting = tuple[Transfer, str, datetime]  # the transfer, its ledger key, its time


async def apply(session: AsyncSession, transfer: Transfer, key: str, now: datetime) -> Outcome:
    """The posting; None if refused (key used, too few credits, nothing left to take)."""
    connection = await sqlite3_connection(session)
    if transfer.idempotency_key and sqlite_posting.key_used(connection, key):
        return None
    context = _context(session)
    if transfer.kind.credits_wallet:
        posted = sqlite_posting.credit(connection, transfer, key, now, context)
    else:
        posted = sqlite_posting.debit(connection, transfer, key, now, context)
    if posted is None:
        return None
    watch.tell(session, transfer.user_id, posted.moved, now)
    outcome = (posted.transaction_id, posted.balance, posted.amount)
    if transfer.kind.credits_wallet:
        assert posted.grant_id is not None, "a credit opens a grant"
        events.granted(
            session, transfer, posted.grant_id, posted.transaction_id, posted.balance, now
        )
    elif transfer.kind is EXPIRY and transfer.grant_id is not None:  # the sweep's, of a grant
        events.expired(session, transfer, outcome, now)
    return *outcome, posted.grant_id


def _context(session: AsyncSession) -> sqlite_posting.Context:
    return sqlite_posting.Context(
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
