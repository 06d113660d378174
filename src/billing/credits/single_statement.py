"""Posting on PostgreSQL in one statement: one round trip, no explicit transaction.

Data-modifying CTEs make the wallet update, the transaction, its entries and its
audit entry one atomic statement. The wallet CTE returns no row when the key was
already used, the balance is too low (debit) or would overflow (credit); the caller
then explains the refusal. Two racing postings with one key serialize on the wallet
row and the loser fails on the unique key: nothing posted, and the caller's
explanation replays the winner.

This is the hottest path of the service, so it runs on the driver's (asyncpg)
connection, checked out from SQLAlchemy's pool (`Database.driver_connection`), with
a statement asyncpg prepares once per connection. Concurrent spends without a client
key are committed in groups (`SPENDS`, `post_debits`): the commit costs more than the
statement.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core import correlation
from billing.credits.accounts import EXPIRY
from billing.credits.events import EXPIRED_MESSAGE, GRANTED_MESSAGE
from billing.credits.repository import MAX_WALLET_BALANCE
from billing.credits.transfers import POSTED_FACTS, Transfer
from billing.db.engine import Database
from billing.db.group_commit import GroupCommit
from billing.db.statements import driver_connection_of

KEY_CONSTRAINT = "uq_credit_transactions_idempotency_key"
# $1 user_id, $2 amount, $3 now, $4 idempotency key
KEY_UNUSED = "NOT EXISTS (SELECT 1 FROM credit_transactions WHERE idempotency_key = $4)"
# $5 kind, $6 fingerprint, $7 actor, $8 reference, $9 description, $10 metadata,
# $11 expires_at, $12 signed change to the wallet, $13 system account id,
# $14-$20 the audit entry (`Transfer.audit_entry`): actor, action, target, user id,
# request id, details, the caller's request id; then $21 the grant's source and $22 its
# priority.
CREDIT = f"""
WITH wallet AS (
    INSERT INTO credit_accounts (kind, user_id, balance, created_at, updated_at)
    SELECT 'wallet', $1, $2, $3, $3 WHERE {KEY_UNUSED}
    ON CONFLICT (user_id) DO UPDATE
        SET balance = credit_accounts.balance + excluded.balance, updated_at = excluded.updated_at
        WHERE credit_accounts.balance + excluded.balance <= {MAX_WALLET_BALANCE}
    RETURNING id, balance
),
txn AS (
    INSERT INTO credit_transactions (kind, user_id, amount, idempotency_key, fingerprint, actor,
                                     reference, description, metadata, expires_at, created_at)
    SELECT $5::varchar, $1::bigint, $2::bigint, $4::varchar, $6::varchar, $7::varchar,
           $8::varchar, $9::varchar, $10::jsonb, $11::timestamptz, $3::timestamptz
    FROM wallet
    RETURNING id
),
entries AS (
    INSERT INTO credit_entries (transaction_id, account_id, amount, balance_after)
    SELECT txn.id, wallet.id, $12::bigint, wallet.balance FROM txn, wallet
    UNION ALL
    SELECT txn.id, $13::bigint, -$12::bigint, NULL FROM txn
),
opened AS (
    INSERT INTO credit_grants (account_id, user_id, source, amount, remaining, priority, status,
                               reference, transaction_id, effective_at, expires_at, created_at,
                               updated_at)
    SELECT wallet.id, $1, $21::varchar, $2, $2, $22::smallint, 'active', $8, txn.id, $3, $11,
           $3, $3
    FROM txn, wallet
    RETURNING id
),
grant_entry AS (
    INSERT INTO credit_grant_entries (transaction_id, grant_id, amount)
    SELECT txn.id, opened.id, $2 FROM txn, opened
),
audit AS (
    INSERT INTO audit_log (created_at, actor, action, target, user_id, request_id, details,
                           caller_request_id)
    SELECT $3::timestamptz, $14::varchar, $15::varchar, $16::varchar, $17::bigint, $18::varchar,
           $19::jsonb || jsonb_build_object('{POSTED_FACTS[0]}', txn.id, '{POSTED_FACTS[1]}',
                                            wallet.balance),
           $20::varchar
    FROM txn, wallet
),
answer AS (
    SELECT txn.id, wallet.balance - credit_lapsed(wallet.id, $3) AS balance,
           $2::bigint AS amount, opened.id AS grant_id
    FROM txn, wallet, opened
),
message AS ({GRANTED_MESSAGE})
SELECT * FROM answer
"""  # noqa: S608 (constants only)
# The function (migration 0011) locks the wallet, then reads its grants: a statement of
# its own sees what the debits before it committed. $21 the reference whose grants go
# first, $22 the one grant to empty, $23 the status that leaves it in.
DEBIT = "SELECT * FROM credit_debit(" + ", ".join(f"${n}" for n in range(1, 24)) + ")"  # noqa: S608
# An expiry, and the message telling of it, in one statement.
EXPIRY_DEBIT = f"WITH posted AS ({DEBIT}), message AS ({EXPIRED_MESSAGE}) SELECT * FROM posted"  # noqa: S608

# Keyed debits of one kind and actor, one per event (migration 0013): $1-$8 arrays of
# user ids, amounts, keys, fingerprints, descriptions, metadata, audit targets and details;
# $9 now, $10 kind, $11 actor, $12 system account id, $13 audit action, $14-$15 request ids.
DEBIT_MANY = "SELECT * FROM credit_debit_many(" + ", ".join(f"${n}" for n in range(1, 16)) + ")"  # noqa: S608

# The wallet entry of each given key that is posted: a batch's answers, read after it commits.
POSTED = """
SELECT t.idempotency_key, t.id, e.balance_after - credit_lapsed(e.account_id, $2) AS balance,
       t.amount
FROM credit_transactions t
JOIN credit_entries e ON e.transaction_id = t.id AND e.balance_after IS NOT NULL
WHERE t.idempotency_key = ANY($1::varchar[])
"""
Arguments = tuple[Any, ...]
# (transaction id, wallet balance after, amount, grant opened), None: not posted
Outcome = tuple[int, int, int, int | None] | None
USER_ID, NOW, KEY = 0, 2, 3  # positions in Arguments


def statement_for(transfer: Transfer) -> str:
    if transfer.kind.credits_wallet:
        return CREDIT
    swept = transfer.kind is EXPIRY and transfer.grant_id is not None  # a grant expired
    return EXPIRY_DEBIT if swept else DEBIT


def arguments_for(transfer: Transfer, key: str, now: datetime) -> Arguments:
    """The statement's parameters, taken in the requesting task (its request ids)."""
    metadata = orjson.dumps(transfer.metadata).decode() if transfer.metadata else None
    entry = transfer.audit_entry()
    return (
        transfer.user_id,
        transfer.amount,
        now,
        key,
        transfer.kind.name,
        transfer.fingerprint,
        transfer.actor,
        transfer.reference,
        transfer.description,
        metadata,
        transfer.expires_at,
        transfer.wallet_delta,
        transfer.kind.system_account_id,
        entry.actor,
        entry.action,
        entry.target,
        entry.user_id,
        correlation.current(),
        orjson.dumps(entry.details).decode(),
        correlation.caller(),
        *_grant_arguments(transfer),
    )


def _grant_arguments(transfer: Transfer) -> Arguments:
    if transfer.kind.credits_wallet:
        return transfer.terms.source, transfer.terms.effective_priority
    return transfer.prefer_reference, transfer.grant_id, transfer.kind.ends_grant


def key_raced(exc: BaseException) -> bool:
    """Another transaction committed the same idempotency key first."""
    return isinstance(exc, asyncpg.UniqueViolationError) and exc.constraint_name == KEY_CONSTRAINT


async def post_once(database: Database, statement: str, arguments: Arguments) -> Outcome:
    row = await fetch_once(database, statement, arguments)
    return _outcome(row) if row else None


async def fetch_once(database: Database, statement: str, arguments: Arguments) -> Any:
    """The statement's one row, or None: nothing posted, or its key taken meanwhile by a
    racing posting (which the caller's explanation then replays)."""
    async with database.driver_connection() as connection:
        try:
            return await connection.fetchrow(statement, *arguments)
        except asyncpg.UniqueViolationError as exc:
            if key_raced(exc):
                return None
            raise


# A statement that posts and answers one row, the wallet whose lock it takes first.
Fetch = tuple[str, Arguments, int]


async def _fetch_alone(database: Database, item: Fetch) -> Any:
    statement, arguments, _ = item
    return await fetch_once(database, statement, arguments)


async def _fetch_together(database: Database, items: list[Fetch]) -> list[Any]:
    """Each item's row, in one transaction and one commit. A key that another transaction
    took meanwhile rolls them all back: each is then posted alone."""
    try:
        async with database.driver_connection() as connection, connection.transaction():
            return [await connection.fetchrow(sql, *arguments) for sql, arguments, _ in items]
    except asyncpg.UniqueViolationError as exc:
        if not key_raced(exc):
            raise
    return [await _fetch_alone(database, item) for item in items]


# Holds placed and settled concurrently, committed in groups as unkeyed spends are: each
# alone costs a commit, and commits, not statements, bound them (bench/holds.py).
ROWS = GroupCommit(_fetch_alone, _fetch_together, order=lambda item: item[2])


async def fetch_committed(
    database: Database, statement: str, arguments: Arguments, user_id: int
) -> Any:
    """`fetch_once`, in a group commit with the others in flight (wallets in user order)."""
    return await ROWS.write(database, (statement, arguments, user_id))


async def post_many(database: Database, debits: list[Transfer], now: datetime) -> list[Outcome]:
    """Keyed debits of one kind and actor, each atomic on its own, in one statement and one
    commit. An event of a covered wallet whose key another transaction commits meanwhile is
    skipped (and explained as a replay); a key raced on the one-by-one path fails them all
    (`key_raced`): nothing written."""
    first = debits[0].audit_entry()
    entries = [debit.audit_entry() for debit in debits]
    columns = (
        [debit.user_id for debit in debits],
        [debit.amount for debit in debits],
        [debit.idempotency_key for debit in debits],
        [debit.fingerprint for debit in debits],
        [debit.description for debit in debits],
        [orjson.dumps(debit.metadata).decode() if debit.metadata else None for debit in debits],
        [entry.target for entry in entries],
        [orjson.dumps(entry.details).decode() for entry in entries],
    )
    kind = debits[0].kind
    async with database.driver_connection() as connection:
        rows = await connection.fetch(
            DEBIT_MANY,
            *columns,
            now,
            kind.name,
            first.actor,
            kind.system_account_id,
            first.action,
            correlation.current(),
            correlation.caller(),
        )
    posted = {row["ordinal"]: (row["id"], row["balance"], row["amount"], None) for row in rows}
    return [posted.get(ordinal) for ordinal in range(1, len(debits) + 1)]


async def post_debits(database: Database, batch: list[Arguments]) -> list[Outcome]:
    """Debits in order, in one transaction: each is checked against the balance the ones
    before it left, and one commit serves them all. Two round trips: asyncpg pipelines
    `executemany` (atomic: all or none) and then the posted ones are read back by key.

    Only for fresh keys (the service's own `auto:` ones): a key already used before the
    batch would read back as posted by it."""
    async with database.driver_connection() as connection:
        await connection.executemany(DEBIT, batch)
        keys = [arguments[KEY] for arguments in batch]
        rows = await connection.fetch(POSTED, keys, batch[-1][NOW])
    posted = {
        row["idempotency_key"]: (row["id"], row["balance"], row["amount"], None) for row in rows
    }
    return [posted.get(arguments[KEY]) for arguments in batch]


async def _debit_alone(database: Database, arguments: Arguments) -> Outcome:
    return await post_once(database, DEBIT, arguments)


def _wallet(arguments: Arguments) -> int:
    return int(arguments[USER_ID])


# Unkeyed spends, committed in groups (see group_commit.py): wallets locked in user id order.
SPENDS = GroupCommit(_debit_alone, post_debits, order=_wallet)


async def post_in_transaction(
    session: AsyncSession, transfer: Transfer, key: str, now: datetime
) -> Outcome:
    """The same statement inside the session's open transaction (a webhook handler's), on
    its own driver connection: one round trip instead of five. A key used concurrently
    fails the statement, and so the caller's transaction (or savepoint), to be retried."""
    driver = await driver_connection_of(session)
    return await _post(driver, statement_for(transfer), arguments_for(transfer, key, now))


async def _post(connection: asyncpg.Connection, statement: str, arguments: Arguments) -> Outcome:
    row = await connection.fetchrow(statement, *arguments)
    return _outcome(row) if row else None


def _outcome(row: Any) -> Outcome:
    return row["id"], row["balance"], row["amount"], row["grant_id"]
