"""The audit log: who did what to which, when, under which request; hash-chained.

What is recorded, one entry each, in the same database transaction as the change
itself (both commit or neither does):
- every credit transaction posted: `credit.<kind>` (a replayed key posts nothing and
  records nothing); the actor is the ledger's (`admin:1`, `key:7`, `stripe`, ...);
- every change Stripe reports to a subscription or a payment: `subscription.created`,
  `subscription.updated`, `payment.created`, `payment.updated`, with the fields that
  changed as `[before, after]`;
- every admin action: `webhook.replayed`, credit grants (`credit.admin_grant`),
  erasure and key rotation (their modules call `record`).
Targets are `user:<id>` or a Stripe object's id; `user_id` names the platform user
concerned. Entries never hold personal data, so erasure never has to touch the log.
`request_id` is the id the server minted for the HTTP request (`X-Server-Request-ID`)
or, for webhook-driven changes, the Stripe event's id; `caller_request_id` is the
caller's own `X-Request-ID`, if it sent a sane one (null for events and jobs): kept,
never trusted as the request's id, since any caller may send any id.

The chain. A sealed entry has `seq` (1, 2, 3, ...), `prev_hash` (the `hash` of entry
`seq - 1`; 64 zeros for the first) and `hash` = SHA-256 of the canonical JSON (sorted
keys, no spaces) of its fields: id, created_at, actor, action, target, user_id,
request_id, caller_request_id (only when it has one, so entries sealed before the
column existed keep their hashes), details, seq and prev_hash. Invariants, checked by
`billing verify-ledger`, which names the first entry that breaks one:
1. Append-only: an entry is inserted, sealed once (seq, prev_hash, hash set from
   NULL), and never otherwise updated or deleted (database triggers refuse it).
2. Linear: the sealed entries' seq run 1..N with no gap and no repeat. One sealer
   runs at a time (a transaction-scoped advisory lock on PostgreSQL; SQLite's
   `BEGIN IMMEDIATE`), and seq is unique as the last guard, so the chain never forks.
3. Linked: entry k's prev_hash is entry k-1's hash.
4. Self-certifying: each hash is recomputed from the stored row and must match.
5. Committed only, in the order sealed: `seq` is given by the sealer, not at insert,
   and the sealer sees only committed entries (an open transaction's are invisible
   to it; a rolled-back one's never exist). So a rollback leaves a gap in `id`, never
   in `seq`, and an entry that commits late simply takes the next seq: the chain's
   order is the order entries were sealed, each batch in id order.
6. Atomic with its change: an entry is written in the transaction of the change it
   records (on PostgreSQL a credit posting's entry is part of its one statement).

Why a sealer rather than hashing on insert: hashing on insert needs the previous
hash, i.e. a lock on the chain's head held by every posting until it commits. That
one lock would serialize every spend of every wallet, fsync included (measured:
docs/performance.md). Appends here take no shared lock; the sealer (in every
`billing worker` and the embedded worker, each second, and in `billing verify-ledger`
before it checks) chains what has committed, in batches, holding only its own lock.
The cost: an entry is unsealed, protected by the triggers but not yet by the chain,
for about a second (or until a worker runs).

A chain alone cannot stop someone who may rewrite the table and recompute every
later hash: `verify-ledger` prints the head (seq and hash); keep it elsewhere, and
history up to it is pinned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit.models import AuditEntry
from billing.core import correlation
from billing.core.times import utcnow
from billing.db.types import Base

# Bookkeeping columns whose changes say nothing about the object itself.
UNAUDITED_COLUMNS = frozenset({"id", "created_at", "updated_at", "state_at"})

# On the table, parameters bound at execution: compiled once, no ORM bulk machinery.
_INSERT_ENTRY = insert(AuditEntry.__table__)


def user_target(user_id: int) -> str:
    return f"user:{user_id}"


@dataclass(frozen=True, slots=True)
class Entry:
    """An audit entry as its writer describes it; the time and request ids are added
    when it is recorded. `details` must be JSON: ids, amounts, states; never personal
    data."""

    actor: str
    action: str
    target: str
    user_id: int | None = None
    details: dict[str, Any] | None = None


async def record_entry(session: AsyncSession, entry: Entry) -> None:
    """Append `entry` in the session's transaction, with the current request's ids."""
    row = {
        "created_at": utcnow(),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "user_id": entry.user_id,
        "request_id": correlation.current(),
        "caller_request_id": correlation.caller(),
        "details": entry.details,
    }
    await session.execute(_INSERT_ENTRY, row)


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str,
    user_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append an entry in the session's transaction, with the current request's ids."""
    await record_entry(session, Entry(actor, action, target, user_id, details))


def _json(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _created(values: Mapping[str, object]) -> dict[str, list[object]]:
    """`{column: [None, value]}` for every column a new row was given."""
    return {
        key: [None, _json(value)]
        for key, value in values.items()
        if value is not None and key not in UNAUDITED_COLUMNS
    }


def _changes(row: Base) -> dict[str, list[object]]:
    """`{column: [before, after]}` of what the session changed on `row` and has not
    flushed yet."""
    state = inspect(row)
    changes: dict[str, list[object]] = {}
    for column in state.mapper.column_attrs:
        history = state.attrs[column.key].history
        if column.key not in UNAUDITED_COLUMNS and history.added and history.deleted:
            changes[column.key] = [_json(history.deleted[0]), _json(history.added[0])]
    return changes


async def record_created(
    session: AsyncSession,
    values: Mapping[str, object],
    noun: str,
    *,
    actor: str,
    target: str,
    user_id: int | None,
) -> None:
    """Audit a row Stripe's news created, inserted from `values`: `<noun>.created`."""
    await record(
        session,
        actor=actor,
        action=f"{noun}.created",
        target=target,
        user_id=user_id,
        details={"changes": _created(values)},
    )


async def record_changes(
    session: AsyncSession,
    row: Base,
    noun: str,
    *,
    actor: str,
    target: str,
    user_id: int | None,
    created: bool = False,
) -> None:
    """Audit a row Stripe's news changed: `<noun>.created` with its columns, or
    `<noun>.updated` with what changed; nothing changed, no entry. Call it after the
    changes and before anything flushes the session."""
    if created:
        columns = inspect(row).mapper.column_attrs
        values = {column.key: getattr(row, column.key) for column in columns}
        await record_created(session, values, noun, actor=actor, target=target, user_id=user_id)
    elif changes := _changes(row):
        await record(
            session,
            actor=actor,
            action=f"{noun}.updated",
            target=target,
            user_id=user_id,
            details={"changes": changes},
        )
