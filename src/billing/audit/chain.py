"""Sealing the audit log into a hash chain, and proving the chain intact.

The design and its invariants are in `billing.audit.service`. Sealing and
verifying both compute hashes here, from the row as stored, so whatever the
database normalizes (JSON key order, timestamp precision) is the same for both.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit.models import AuditEntry
from billing.db.engine import Database

GENESIS = "0" * 64  # the prev_hash of entry 1
SEAL_BATCH = 1000
# SQLite's in-process worker seals on the loop's thread, in the process's one write turn:
# short transactions keep a request from waiting long behind one (docs/performance.md).
SEAL_BATCH_SQLITE = 100
SEAL_INTERVAL = 1.0  # seconds between the worker's sealing passes
VERIFY_BATCH = 5000
SEAL_LOCK = 0x617564697473  # pg advisory lock key ("audits"): one sealer at a time
HASHED = (
    AuditEntry.id,
    AuditEntry.created_at,
    AuditEntry.actor,
    AuditEntry.action,
    AuditEntry.target,
    AuditEntry.user_id,
    AuditEntry.request_id,
    AuditEntry.caller_request_id,
    AuditEntry.details,
)


def entry_hash(entry: Any, seq: int, prev_hash: str) -> str:
    """SHA-256 of the entry's canonical JSON: its fields, its place and its predecessor.
    The caller's request id is in it only when the entry has one: entries sealed before
    there was one (and entries without) hash as they always did."""
    document = {
        "id": entry.id,
        "created_at": entry.created_at.isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "user_id": entry.user_id,
        "request_id": entry.request_id,
        "details": entry.details,
        "seq": seq,
        "prev_hash": prev_hash,
    }
    if entry.caller_request_id is not None:
        document["caller_request_id"] = entry.caller_request_id
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def _head(session: AsyncSession) -> tuple[int, str]:
    """The last sealed entry's seq and hash; (0, GENESIS) before the first."""
    query = (
        select(AuditEntry.seq, AuditEntry.hash)
        .where(AuditEntry.seq.is_not(None))
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    )
    head = (await session.execute(query)).first()
    if head is None:
        return 0, GENESIS
    return int(head.seq), str(head.hash)


# Core statements on the session's connection, cheaper than the ORM's bulk update by
# primary key and its result loading: on SQLite the in-process worker's sealing runs on
# the event loop's thread (docs/performance.md).
UNSEALED = select(*HASHED).where(AuditEntry.seq.is_(None)).order_by(AuditEntry.id)
SEAL = (
    update(AuditEntry.__table__)
    .where(AuditEntry.__table__.c.id == bindparam("entry"))
    .values(seq=bindparam("seq"), prev_hash=bindparam("prev"), hash=bindparam("digest"))
)


async def _seal_batch(database: Database, limit: int) -> int:
    """Chain up to `limit` committed entries, oldest id first."""
    async with database.sessions() as session, session.begin():
        if database.dialect == "postgresql" and not await session.scalar(
            select(func.pg_try_advisory_xact_lock(SEAL_LOCK))
        ):
            return 0  # another sealer is at it
        seq, prev_hash = await _head(session)
        connection = await session.connection()
        rows = (await connection.execute(UNSEALED.limit(limit))).all()  # committed ones only
        sealed = []
        for row in rows:
            seq += 1
            digest = entry_hash(row, seq, prev_hash)
            sealed.append({"entry": row.id, "seq": seq, "prev": prev_hash, "digest": digest})
            prev_hash = digest
        if sealed:
            await connection.execute(SEAL, sealed)
    return len(sealed)


async def has_unsealed(database: Database) -> bool:
    """A lock-free look, so an idle sealer never takes SQLite's write lock."""
    return await database.any_row(select(AuditEntry.id).where(AuditEntry.seq.is_(None)))


async def seal(database: Database, batch: int | None = None) -> int:
    """Chain every committed entry, `batch` at a time; how many were sealed."""
    if batch is None:
        batch = SEAL_BATCH_SQLITE if database.dialect == "sqlite" else SEAL_BATCH
    total = 0
    while await has_unsealed(database):
        sealed = await _seal_batch(database, batch)
        total += sealed
        if sealed < batch:
            break
    return total


@dataclass(frozen=True, slots=True)
class BrokenEntry:
    id: int
    seq: int
    reason: str


@dataclass
class ChainReport:
    sealed: int = 0
    unsealed: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    broken: BrokenEntry | None = None


def _fault(row: Row[Any], expected_seq: int, prev_hash: str) -> str | None:
    """Why `row` breaks the chain at this point, or None."""
    if row.seq != expected_seq:
        return f"seq {row.seq} where {expected_seq} was due: entries are missing"
    if row.hash != entry_hash(row, row.seq, row.prev_hash):
        return "its hash does not match its contents"
    if row.prev_hash != prev_hash:
        return f"its prev_hash is not the hash of entry {expected_seq - 1}"
    return None


async def verify_chain(session: AsyncSession) -> ChainReport:
    """Walk the chain in seq order (in the session's snapshot) to its head or first break."""
    report = ChainReport()
    query = select(*HASHED, AuditEntry.seq, AuditEntry.prev_hash, AuditEntry.hash)
    while report.broken is None:
        page = query.where(AuditEntry.seq > report.head_seq).order_by(AuditEntry.seq)
        rows = (await session.execute(page.limit(VERIFY_BATCH))).all()
        for row in rows:
            reason = _fault(row, report.head_seq + 1, report.head_hash)
            if reason is not None:
                report.broken = BrokenEntry(row.id, row.seq, reason)
                break
            report.sealed, report.head_seq, report.head_hash = row.seq, row.seq, row.hash
        if len(rows) < VERIFY_BATCH:
            break
    unsealed = select(func.count()).select_from(AuditEntry).where(AuditEntry.seq.is_(None))
    report.unsealed = int(await session.scalar(unsealed) or 0)
    return report


def audit_summary(report: ChainReport) -> str:
    """One line for `billing verify-ledger`: the head to keep elsewhere, or the break."""
    intact = f"head seq {report.head_seq} hash {report.head_hash}"
    waiting = f"{report.unsealed} not sealed yet (transactions still open)"
    if report.broken is None:
        return f"audit log: {report.sealed} entries chained, {intact}; {waiting}"
    broken = report.broken
    return (
        f"audit log: chain broken at entry id {broken.id} (seq {broken.seq}): {broken.reason};"
        f" intact up to {intact}"
    )
