"""Retention: what the service stops keeping once it is no longer needed.

- Webhook payloads older than `BILLING_WEBHOOK_RETENTION_DAYS` (by receipt) are
  dropped: the inbox row stays with its event id, type, status and times, which is
  what duplicate detection, reporting and the audit trail use. Only events that are
  done with (processed, ignored or dead) lose theirs; one still due keeps it for
  its handler.
- Idempotency keys past their expiry (24 h) are deleted.

Both work in batches of short transactions, so the job never holds a lock for
long, can be stopped anywhere and is safe to run again (or in several workers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, delete, null, select, tuple_, update
from sqlalchemy.orm import InstrumentedAttribute

from billing.core.config import Settings
from billing.db.engine import Database
from billing.db.statements import read_without_transaction
from billing.idempotency.models import IdempotencyRecord
from billing.webhooks.models import DONE_STATUSES, WebhookEvent

BATCH_SIZE = 1000
logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RetentionCounts:
    webhook_payloads_pruned: int
    idempotency_keys_deleted: int


async def run_retention(
    database: Database, settings: Settings, now: datetime, batch_size: int = BATCH_SIZE
) -> RetentionCounts:
    """Apply every retention rule as of `now`; how many rows each one changed."""
    cutoff = now - timedelta(days=settings.BILLING_WEBHOOK_RETENTION_DAYS)
    counts = RetentionCounts(
        webhook_payloads_pruned=await prune_webhook_payloads(database, cutoff, batch_size),
        idempotency_keys_deleted=await delete_expired_keys(database, now, batch_size),
    )
    logger.info(
        "retention_done",
        webhook_payloads_pruned=counts.webhook_payloads_pruned,
        idempotency_keys_deleted=counts.idempotency_keys_deleted,
    )
    return counts


async def prune_webhook_payloads(database: Database, cutoff: datetime, batch_size: int) -> int:
    """Drop the payloads of finished events received before `cutoff`."""
    rule = _Rule(
        WebhookEvent.id,
        WebhookEvent.received_at,
        (
            WebhookEvent.received_at < cutoff,
            WebhookEvent.payload.is_not(None),
            WebhookEvent.status.in_(DONE_STATUSES),
        ),
    )
    pruned = 0
    async for ids in _batches(database, rule, batch_size):
        async with database.sessions() as session, session.begin():
            changed = await session.scalars(
                update(WebhookEvent)
                .where(WebhookEvent.id.in_(ids), *rule.conditions)
                .values(payload=null())  # SQL NULL: a None would be stored as JSON null
                .returning(WebhookEvent.id)
            )
            pruned += len(changed.all())
    return pruned


async def delete_expired_keys(database: Database, now: datetime, batch_size: int) -> int:
    """Delete the idempotency keys whose stored response may no longer be replayed."""
    rule = _Rule(
        IdempotencyRecord.id,
        IdempotencyRecord.expires_at,
        (IdempotencyRecord.expires_at <= now,),
    )
    deleted = 0
    async for ids in _batches(database, rule, batch_size):
        async with database.sessions() as session, session.begin():
            gone = await session.scalars(
                delete(IdempotencyRecord)
                .where(IdempotencyRecord.id.in_(ids), *rule.conditions)
                .returning(IdempotencyRecord.id)
            )
            deleted += len(gone.all())
    return deleted


@dataclass(frozen=True, slots=True)
class _Rule:
    """Rows matching `conditions`, walked in (time, id) order along the time index."""

    id: InstrumentedAttribute[int]
    time: InstrumentedAttribute[datetime]
    conditions: tuple[ColumnElement[bool], ...]


async def _batches(database: Database, rule: _Rule, batch_size: int) -> AsyncIterator[list[int]]:
    """Ids of matching rows, a batch at a time, each read outside a transaction and
    resuming after the last one, so no row is looked at twice."""
    position: tuple[datetime, int] | None = None
    while True:
        query = select(rule.time, rule.id).where(*rule.conditions)
        if position is not None:
            query = query.where(rule.time >= position[0], tuple_(rule.time, rule.id) > position)
        async with database.sessions() as session:
            await read_without_transaction(session)
            rows = (
                await session.execute(query.order_by(rule.time, rule.id).limit(batch_size))
            ).all()
        if not rows:
            return
        yield [row[1] for row in rows]
        position = (rows[-1][0], rows[-1][1])
