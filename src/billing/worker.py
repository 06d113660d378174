"""Processing the webhook inbox: each event's effects exactly once.

A worker claims a batch of due events per database transaction (`FOR UPDATE SKIP
LOCKED` on PostgreSQL, so many workers never take the same event; SQLite runs one
worker and its `BEGIN IMMEDIATE` serializes). Each handler runs inside a SAVEPOINT
in that same transaction, and its event is marked processed in it too: the effects
and the marks commit together, or none does. A handler that
raises is rolled back to the savepoint and the failure is recorded while the
row is still locked, so a failure can never overwrite a concurrent success.
Failures retry with exponential backoff; after `MAX_ATTEMPTS` the event is dead,
and a person is alerted. What a handler tells the outside world (alerts, metrics)
it hands to `after_commit`: said once the effects are committed, never for a
rolled-back attempt. `billing.worker_loop` runs this engine as a process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing import request_id
from billing.db import Database, utcnow
from billing.failure_spikes import SPIKES
from billing.observability import (
    WEBHOOK_DEAD_EVENTS,
    WEBHOOK_HANDLER_DURATION,
    WEBHOOK_LAG,
    WEBHOOK_PROCESSED,
    alert,
)
from billing.webhooks.inbox import PENDING
from billing.webhooks.models import WebhookEvent

Handler = Callable[[AsyncSession, WebhookEvent], Awaitable[None]]

PROCESSED, IGNORED, FAILED, DEAD = "processed", "ignored", "failed", "dead"
DUE_STATUSES = (PENDING, FAILED)
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(hours=1)
MAX_ERROR_LENGTH = 500
AFTER_COMMIT = "billing.after_commit"  # session.info key: callbacks of the handler run

logger = structlog.get_logger(__name__)


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run `callback` once the worker's transaction commits: an alert or a metric for an
    attempt that rolls back (and is retried) would be false, or counted twice. Outside
    the worker, where nobody collects them, it runs at once."""
    pending: list[Callable[[], None]] | None = session.info.get(AFTER_COMMIT)
    if pending is None:
        callback()
    else:
        pending.append(callback)


def _run(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:  # the event is committed: a broken notifier must not undo that
            logger.exception("after_commit_callback_failed")


def retry_delay(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s, ... capped at an hour."""
    delay: timedelta = FIRST_RETRY * 2 ** max(attempts - 1, 0)
    return min(delay, LONGEST_RETRY)


def _due(now: datetime) -> ColumnElement[bool]:
    return WebhookEvent.status.in_(DUE_STATUSES) & (WebhookEvent.next_attempt_at <= now)


async def has_due(database: Database) -> bool:
    """Whether any event is due: a read outside any transaction, so an idle worker's
    polling never takes SQLite's write lock."""
    query = select(WebhookEvent.id).where(_due(utcnow())).limit(1)
    async with database.autocommit() as connection:
        return await connection.scalar(query) is not None


async def overdue_seconds(database: Database) -> float:
    """How long the longest-waiting due event has been due: near 0 while workers keep
    up, growing while none runs (what the worker-lag alert watches)."""
    now = utcnow()
    query = select(func.min(WebhookEvent.next_attempt_at)).where(_due(now))
    async with database.autocommit() as connection:
        oldest = await connection.scalar(query)
    return 0.0 if oldest is None else (now - oldest).total_seconds()


async def process_next(database: Database, handlers: Mapping[str, Handler]) -> bool:
    """Claim and process one due event; False when none is due."""
    return await process_batch(database, handlers, 1) > 0


async def process_batch(
    database: Database,
    handlers: Mapping[str, Handler],
    size: int,
    stop: asyncio.Event | None = None,
) -> int:
    """Claim up to `size` due events and process them in one transaction, each handler
    in its own savepoint: one commit (one fsync) for the lot. A crash before the commit
    leaves every one of them due again, so each effect still happens exactly once. Once
    `stop` is set, the events not yet begun are left due for the next worker."""
    async with database.sessions() as session:
        async with session.begin():
            query = select(WebhookEvent).where(_due(utcnow())).order_by(WebhookEvent.id)
            if database.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            claimed = list(await session.scalars(query.limit(size)))
            events: list[WebhookEvent] = []
            callbacks: list[Callable[[], None]] = []
            for event in claimed:
                if events and stop is not None and stop.is_set():
                    break
                callbacks += await _handle(session, event, handlers)
                events.append(event)
        _run(callbacks)
    for event in events:
        if event.status in (FAILED, DEAD):
            SPIKES.note("webhook_failure")
        if event.status == DEAD:  # only once the dead mark is committed
            WEBHOOK_DEAD_EVENTS.inc()
            alert(
                "webhook_event_dead",
                event_id=event.stripe_event_id,
                type=event.type,
                attempts=event.attempts,
                error=event.last_error,
            )
    return len(events)


async def _handle(
    session: AsyncSession, event: WebhookEvent, handlers: Mapping[str, Handler]
) -> list[Callable[[], None]]:
    """Run the event's handler in a savepoint; what it asked to run after commit."""
    handler = handlers.get(event.type)
    if handler is None:
        _finish(event, IGNORED)
        return []
    started = time.perf_counter()
    session.info[AFTER_COMMIT] = []
    try:
        with request_id.bound(event.stripe_event_id):  # audit entries and logs name the event
            async with session.begin_nested():
                await handler(session, event)
    except Exception as exc:  # any handler failure is recorded and retried
        _record_failure(event, exc, utcnow())
        return []  # rolled back with the savepoint
    finally:
        callbacks: list[Callable[[], None]] = session.info.pop(AFTER_COMMIT, [])
        WEBHOOK_HANDLER_DURATION.labels(event.type).observe(time.perf_counter() - started)
    _finish(event, PROCESSED)
    return callbacks


async def process_due(
    database: Database, handlers: Mapping[str, Handler], limit: int, batch: int = 1
) -> int:
    """Process up to `limit` due events, `batch` per transaction; how many were taken."""
    taken = 0
    while taken < limit:
        done = await process_batch(database, handlers, min(batch, limit - taken))
        if done == 0:
            break
        taken += done
    return taken


def _finish(event: WebhookEvent, status: str) -> None:
    now = utcnow()  # when its effects were done, not when it was claimed
    event.status = status
    event.attempts += 1
    event.processed_at = now
    event.last_error = None
    lag = (now - event.received_at).total_seconds()
    WEBHOOK_PROCESSED.labels(event.type, status).inc()
    WEBHOOK_LAG.observe(lag)
    logger.debug(
        "webhook_event_done",
        event_id=event.stripe_event_id,
        type=event.type,
        status=status,
        lag_seconds=lag,
    )


def _record_failure(event: WebhookEvent, exc: Exception, now: datetime) -> None:
    event.attempts += 1
    event.last_error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
    if event.attempts >= MAX_ATTEMPTS:
        event.status = DEAD
    else:
        event.status = FAILED
        event.next_attempt_at = now + retry_delay(event.attempts)
        logger.warning(
            "webhook_event_failed",
            event_id=event.stripe_event_id,
            type=event.type,
            attempts=event.attempts,
            error=type(exc).__name__,
        )
    WEBHOOK_PROCESSED.labels(event.type, event.status).inc()
