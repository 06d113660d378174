"""Postings on SQLite as plain statements on the driver's connection, in the caller's
transaction: how `stepwise` posts.

A debit is: the wallet row -> its active grants in consumption order, and which of them
lapsed -> take from the others -> the wallet UPDATE -> the transaction, its entries,
grant entries and audit entry -> what the wallet watches for. A credit: the wallet's upsert ->
the same records -> the grant it opens. Through the ORM, building and
compiling those statements cost about five times what SQLite took to run them
(bench/sqlite.py, docs/performance.md). So they are compiled once, from the same
expressions the rest of the service uses (`grants.lapsed`, `consumption_order`, ...),
and run on the sqlite3 connection. The caller's transaction holds the process's write
turn: nothing changes between the reads and the writes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import case, func, insert, literal_column, select, update
from sqlalchemy.sql import bindparam
from sqlalchemy.sql.dml import Insert

from billing.audit.models import AuditEntry
from billing.core.times import utcnow
from billing.credits import watch
from billing.credits.grants import allocate, consumption_order, lapsed
from billing.credits.models import (
    ACTIVE,
    DEPLETED,
    CreditAccount,
    CreditEntry,
    CreditGrant,
    CreditGrantEntry,
    CreditTransaction,
)
from billing.credits.repository import MAX_WALLET_BALANCE, WATCHED
from billing.credits.transfers import POSTED_FACTS, Transfer
from billing.db.sqlite_driver import Compiled, bind_json, bind_time, compiled, read_time
from billing.db.statements import upsert
from billing.db.types import Base, UTCDateTime

NOW = bindparam("now", type_=UTCDateTime())


@dataclass(frozen=True, slots=True)
class Context:
    """What the caller knows: its request's ids and the service's default low-balance line."""

    request_id: str | None
    caller_request_id: str | None
    default_threshold: int | None


@dataclass(frozen=True, slots=True)
class Posted:
    transaction_id: int
    balance: int  # what can be spent right after
    amount: int
    moved: watch.Moved  # what the wallet's watch decided
    grant_id: int | None = None  # the grant a credit opened


@cache
def _statements() -> dict[str, Compiled]:
    account, grant = CreditAccount, CreditGrant
    grants = select(grant.id, grant.remaining).where(grant.account_id == bindparam("account"))
    # The wallet's active grants and, of each, whether it lapsed: what a debit may take,
    # and what stays counted nowhere, in one read.
    active = select(grant.id, grant.remaining, lapsed(NOW)).where(
        grant.account_id == bindparam("account"), grant.status == ACTIVE
    )
    preferred = case((grant.reference == bindparam("prefer"), 0), else_=1).asc()
    credited = upsert("sqlite", account).values(
        kind="wallet",
        user_id=bindparam("user"),
        balance=bindparam("amount"),
        created_at=NOW,
        updated_at=NOW,
    )
    sum_ = account.balance + credited.excluded.balance
    return {
        "key_used": compiled(
            select(CreditTransaction.id).where(
                CreditTransaction.idempotency_key == bindparam("key")
            )
        ),
        "credit": compiled(
            credited.on_conflict_do_update(
                index_elements=[account.user_id],
                set_={"balance": sum_, "updated_at": credited.excluded.updated_at},
                where=sum_ <= MAX_WALLET_BALANCE,
            ).returning(account.id, account.balance, *WATCHED)
        ),
        "grant": compiled(_insert(CreditGrant).returning(literal_column("id"))),
        "wallet": compiled(
            select(account.id, account.balance, *WATCHED).where(
                account.user_id == bindparam("user"), account.kind == "wallet"
            )
        ),
        "active": compiled(active.order_by(*consumption_order())),
        "preferred": compiled(active.order_by(preferred, *consumption_order())),
        "whole": compiled(grants.where(grant.id == bindparam("grant"), grant.status == ACTIVE)),
        "take": compiled(
            update(grant)
            .where(grant.id == bindparam("grant"))
            .values(
                remaining=grant.remaining - bindparam("take"),
                status=case(
                    (grant.remaining == bindparam("take"), bindparam("emptied")), else_=ACTIVE
                ),
                updated_at=NOW,
            )
        ),
        "debit": compiled(
            update(account)
            .where(account.id == bindparam("account"))
            .values(balance=account.balance - bindparam("amount"), updated_at=NOW)
            .returning(account.balance)
        ),
        "transaction": compiled(_insert(CreditTransaction).returning(literal_column("id"))),
        "entry": compiled(_insert(CreditEntry)),
        "grant_entry": compiled(_insert(CreditGrantEntry)),
        "audit": compiled(_insert(AuditEntry)),
        "lapsed": compiled(
            select(func.coalesce(func.sum(grant.remaining), 0)).where(
                grant.account_id == bindparam("account"), lapsed(NOW)
            )
        ),
    }


# What the audit log's sealing fills in later (`audit.chain`), never the writer.
SEALED_LATER = frozenset({"seq", "prev_hash", "hash"})


def _insert(model: type[Base]) -> Insert:
    """Every column but the id (and what sealing fills in), bound by its name."""
    columns = model.__table__.columns
    names = [c.name for c in columns if not c.primary_key and c.name not in SEALED_LATER]
    return insert(model.__table__).values({name: bindparam(name) for name in names})


@cache
def _watch_update(columns: frozenset[str]) -> Compiled:
    """The wallet's UPDATE of what its watch changed (which columns varies)."""
    account = CreditAccount.__table__
    values: dict[str, Any] = {name: bindparam(name) for name in sorted(columns)}
    return compiled(update(account).where(account.c.id == bindparam("account")).values(values))


def debit(
    connection: sqlite3.Connection,
    transfer: Transfer,
    key: str,
    now: datetime,
    context: Context,
) -> Posted | None:
    """`transfer`'s debit; None if the wallet cannot take it (or holds nothing to take)."""
    run = _statements()
    at = bind_time(now)
    row = run["wallet"].run(connection, user=transfer.user_id).fetchone()
    if row is None:
        return None
    account_id, balance, *watched = row
    wallet = _watched(*watched)
    available, lapsed_held = _grants(connection, account_id, transfer, at)
    held = sum(remaining for _, remaining in available)
    amount = held if transfer.grant_id is not None else transfer.amount  # a whole grant: all
    if amount <= 0 or held < amount:
        return None
    taken = allocate(available, amount)
    emptied = transfer.kind.ends_grant or DEPLETED
    run["take"].run_many(
        connection, [{"grant": g, "take": t, "emptied": emptied, "now": at} for g, t in taken]
    )
    (balance,) = run["debit"].run(connection, account=account_id, amount=amount, now=at).fetchone()
    transaction_id = record(connection, transfer, key, now, (account_id, amount, balance), context)
    run["grant_entry"].run_many(
        connection,
        [{"transaction_id": transaction_id, "grant_id": g, "amount": -t} for g, t in taken],
    )
    after = (account_id, balance, lapsed_held)
    moved = _watch(connection, after, wallet, now, context, debit=True)
    return Posted(transaction_id, moved.spendable, amount, moved)


def credit(
    connection: sqlite3.Connection, transfer: Transfer, key: str, now: datetime, context: Context
) -> Posted | None:
    """`transfer`'s credit and the grant it opens; None if the balance would overflow."""
    run, at = _statements(), bind_time(now)
    row = run["credit"].run(connection, user=transfer.user_id, amount=transfer.amount, now=at)
    found = row.fetchone()
    if found is None:
        return None
    account_id, balance, *watched = found
    moved = (account_id, transfer.amount, balance)
    transaction_id = record(connection, transfer, key, now, moved, context)
    terms = transfer.terms
    (grant_id,) = (
        run["grant"]
        .run(
            connection,
            account_id=account_id,
            user_id=transfer.user_id,
            source=terms.source,
            amount=transfer.amount,
            remaining=transfer.amount,
            priority=terms.effective_priority,
            status=ACTIVE,
            reference=transfer.reference,
            transaction_id=transaction_id,
            effective_at=at,
            expires_at=bind_time(terms.expires_at),
            created_at=at,
            updated_at=at,
        )
        .fetchone()
    )
    run["grant_entry"].run_many(
        connection,
        [{"transaction_id": transaction_id, "grant_id": grant_id, "amount": transfer.amount}],
    )
    wallet = _watched(*watched)
    told = _watch(connection, (account_id, balance, None), wallet, now, context, debit=False)
    return Posted(transaction_id, told.spendable, transfer.amount, told, grant_id)


def key_used(connection: sqlite3.Connection, key: str) -> bool:
    return _statements()["key_used"].run(connection, key=key).fetchone() is not None


def _watch(
    connection: sqlite3.Connection,
    wallet_after: tuple[int, int, int | None],
    wallet: watch.Watched,
    now: datetime,
    context: Context,
    *,
    debit: bool,
) -> watch.Moved:
    """What can be spent now (the balance less lapsed grants), and what the watch does.
    `wallet_after`: the wallet's id, balance, and what its lapsed grants hold (None: not
    read yet)."""
    account_id, balance, held = wallet_after
    if held is None:
        lapsed_row = _statements()["lapsed"].run(connection, account=account_id, now=bind_time(now))
        (held,) = lapsed_row.fetchone()
    own = wallet.low_balance_threshold
    threshold = own if own is not None else context.default_threshold
    moved = watch.decide(wallet, threshold, balance - held, now, debit=debit)
    if moved.changes:
        changes = {
            k: bind_time(v) if isinstance(v, datetime) else v for k, v in moved.changes.items()
        }
        _watch_update(frozenset(changes)).run(connection, account=account_id, **changes)
    return moved


def _grants(
    connection: sqlite3.Connection, account_id: int, transfer: Transfer, at: str
) -> tuple[list[tuple[int, int]], int | None]:
    """(id, remaining) of the grants the debit may take from, in the order it takes them;
    and what the wallet's lapsed grants hold, if read with them (None: not read)."""
    run = _statements()
    if transfer.grant_id is not None:
        rows = run["whole"].run(connection, account=account_id, grant=transfer.grant_id)
        return [(grant_id, remaining) for grant_id, remaining in rows], None
    if transfer.prefer_reference is not None:
        rows = run["preferred"].run(
            connection, account=account_id, now=at, prefer=transfer.prefer_reference
        )
    else:
        rows = run["active"].run(connection, account=account_id, now=at)
    available, lapsed_held = [], 0
    for grant_id, remaining, gone in rows:
        if gone:
            lapsed_held += remaining
        else:
            available.append((grant_id, remaining))
    return available, lapsed_held


def _watched(
    user_id: int,
    low_balance_threshold: int | None,
    alert_level: int,
    topup_threshold: int | None,
    topup_pending: int,
    topup_resumes_at: str | None,
) -> watch.Watched:
    resumes = read_time(topup_resumes_at) if topup_resumes_at is not None else None
    return watch.Watched(
        user_id, low_balance_threshold, alert_level, topup_threshold, bool(topup_pending), resumes
    )


def record(
    connection: sqlite3.Connection,
    transfer: Transfer,
    key: str,
    now: datetime,
    moved: tuple[int, int, int],
    context: Context,
) -> int:
    """The transaction, its two entries and its audit entry; `moved` is the wallet's id,
    the credits moved and the wallet's balance after."""
    run, at = _statements(), bind_time(now)
    account_id, amount, balance = moved
    (transaction_id,) = (
        run["transaction"]
        .run(
            connection,
            kind=transfer.kind.name,
            user_id=transfer.user_id,
            amount=amount,
            idempotency_key=key,
            fingerprint=transfer.fingerprint,
            actor=transfer.actor,
            reference=transfer.reference,
            description=transfer.description,
            metadata=bind_json(transfer.metadata),
            expires_at=bind_time(transfer.expires_at),
            created_at=at,
        )
        .fetchone()
    )
    change = amount if transfer.kind.credits_wallet else -amount
    run["entry"].run_many(
        connection,
        [
            {
                "transaction_id": transaction_id,
                "account_id": account_id,
                "amount": change,
                "balance_after": balance,
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
    facts = dict(zip(POSTED_FACTS, (transaction_id, balance), strict=True))
    run["audit"].run(
        connection,
        created_at=bind_time(utcnow()),
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        user_id=entry.user_id,
        request_id=context.request_id,
        details=bind_json({**(entry.details or {}), "amount": amount, **facts}),
        caller_request_id=context.caller_request_id,
    )
    return int(transaction_id)
