"""Processing the webhook inbox: each event's effects exactly once.

A worker claims a batch of due events per database transaction (`FOR UPDATE SKIP
LOCKED` on PostgreSQL, so many workers never take the same event; SQLite runs one
worker and its `BEGIN IMMEDIATE` serializes). The handlers run in that same
transaction and their events are marked in it too: the effects and the marks commit
together, or none does. A batch first runs its handlers one after the other with
nothing between them; if one raises, the whole batch rolls back and is taken again
with each handler in its own SAVEPOINT, so the failing one is rolled back alone and
its failure recorded while the row is still locked (a failure can never overwrite a
concurrent success). Failures retry with exponential backoff; after `MAX_ATTEMPTS`
the event is dead, and a person is alerted. A handler that lost a deadlock is not at
fault: that is no attempt, and the event is due again in a second. What a handler
tells the outside world (alerts, metrics) it hands to `after_commit`: said once the
effects are committed, never for a rolled-back attempt. `billing.webhooks.worker` runs
this engine as a process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core import correlation
from billing.core.times import utcnow
from billing.db import after_commit
from billing.db.conflicts import lost_a_conflict
from billing.db.engine import Database
from billing.obs.alerts import alert
from billing.obs.failure_spikes import SPIKES
from billing.obs.metrics import (
    WEBHOOK_DEAD_EVENTS,
    WEBHOOK_HANDLER_DURATION,
    WEBHOOK_LAG,
    WEBHOOK_PROCESSED,
    series,
)
from billing.webhooks.models import DEAD, DUE_STATUSES, FAILED, IGNORED, PROCESSED, WebhookEvent

Handler = Callable[[AsyncSession, WebhookEvent], Awaitable[None]]

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(hours=1)
CONFLICT_RETRY = timedelta(seconds=1)
MAX_ERROR_LENGTH = 500

logger = structlog.get_logger(__name__)


def retry_delay(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s, ... capped at an hour."""
    delay: timedelta = FIRST_RETRY * 2 ** max(attempts - 1, 0)
    return min(delay, LONGEST_RETRY)


def _due(now: datetime) -> ColumnElement[bool]:
    return WebhookEvent.status.in_(DUE_STATUSES) & (WebhookEvent.next_attempt_at <= now)


async def has_due(database: Database) -> bool:
    """Whether any event is due: a read outside any transaction, so an idle worker's
    polling never takes SQLite's write lock."""
    return await database.any_row(select(WebhookEvent.id).where(_due(utcnow())))


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


class Ignored(Exception):
    """Raised by a handler, before any write, for an event it must not act on (one of
    the other Stripe mode's, say): the event is kept, marked ignored, never retried."""


class _HandlerFailed(Exception):
    """A handler raised where no savepoint isolates it: the whole batch rolls back."""

    def __init__(self, event_id: int, error: Exception) -> None:
        super().__init__(event_id, error)
        self.event_id, self.error = event_id, error


@dataclass(slots=True)
class _Outcome:
    """What became of one claimed event; written to its row just before the commit."""

    event: WebhookEvent
    status: str
    error: Exception | None = None


async def process_batch(
    database: Database,
    handlers: Mapping[str, Handler],
    size: int,
    stop: asyncio.Event | None = None,
) -> int:
    """Claim up to `size` due events and process them in one transaction: one commit
    (one fsync) for the lot. A crash before the commit leaves every one of them due
    again, so each effect still happens exactly once. Handlers run without savepoints
    first (two round trips fewer per event); should one raise, the batch rolls back and
    is taken again with each handler in its own savepoint, the failed event's failure
    recorded without running it twice, so the others' effects are kept. Once `stop` is
    set, the events not yet begun are left due for the next worker."""
    failed: dict[int, Exception] = {}
    if size > 1:
        try:
            return await _process_claimed(database, handlers, size, stop, None)
        except _HandlerFailed as first:
            failed[first.event_id] = first.error
            logger.info("webhook_batch_isolated", error=type(first.error).__name__)
    return await _process_claimed(database, handlers, size, stop, failed)


async def _process_claimed(
    database: Database,
    handlers: Mapping[str, Handler],
    size: int,
    stop: asyncio.Event | None,
    failed: dict[int, Exception] | None,
) -> int:
    """One pass over a claimed batch: each handler in a savepoint when `failed` (the
    failures already known, by event id) is given, else none."""
    async with database.sessions() as session:
        async with session.begin():
            query = select(WebhookEvent).where(_due(utcnow())).order_by(WebhookEvent.id)
            if database.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            outcomes: list[_Outcome] = []
            callbacks: list[Callable[[], None]] = []
            for event in await session.scalars(query.limit(size)):
                if outcomes and stop is not None and stop.is_set():
                    break
                if failed is not None and event.id in failed:
                    outcomes.append(_Outcome(event, FAILED, failed[event.id]))
                    continue
                outcomes.append(await _handle(session, event, handlers, callbacks, failed))
            _mark(outcomes)  # one flush of every mark, with the commit
        after_commit.run(callbacks)
    _report(outcomes)
    return len(outcomes)


async def _handle(
    session: AsyncSession,
    event: WebhookEvent,
    handlers: Mapping[str, Handler],
    callbacks: list[Callable[[], None]],
    failed: dict[int, Exception] | None,
) -> _Outcome:
    """Run the event's handler (in a savepoint when `failed` is given); what became of
    it. Its writes are flushed before it counts as done, so a write that fails is its
    failure. What it asked to run after commit joins `callbacks` unless rolled back."""
    event_id, event_type = event.id, event.type  # a failed flush expires the event
    handler = handlers.get(event_type)
    if handler is None:
        return _Outcome(event, IGNORED)
    started = time.perf_counter()
    try:
        with after_commit.collecting(session) as pending, correlation.bound(event.stripe_event_id):
            # audit entries and logs name the event
            if failed is None:
                await handler(session, event)
                await session.flush()
            else:
                async with session.begin_nested():
                    await handler(session, event)
    except Ignored as exc:
        logger.warning("webhook_event_ignored", event_id=event.stripe_event_id, reason=str(exc))
        return _Outcome(event, IGNORED)
    except Exception as exc:  # any handler failure is recorded and retried
        if failed is None:
            raise _HandlerFailed(event_id, exc) from exc
        return _Outcome(event, FAILED, exc)  # rolled back with the savepoint
    finally:
        series(WEBHOOK_HANDLER_DURATION, event_type).observe(time.perf_counter() - started)
    callbacks += pending
    return _Outcome(event, PROCESSED)


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


def _mark(outcomes: list[_Outcome]) -> None:
    """Write each outcome to its event's row, stamped now: when its effects are done."""
    now = utcnow()
    for outcome in outcomes:
        event, error = outcome.event, outcome.error
        conflict = error is not None and lost_a_conflict(error)
        event.attempts += 0 if conflict else 1
        if error is None:
            event.status, event.processed_at, event.last_error = outcome.status, now, None
        else:
            (_mark_conflict if conflict else _mark_failed)(event, error, now)
            outcome.status = event.status


def _mark_failed(event: WebhookEvent, exc: Exception, now: datetime) -> None:
    event.status, event.last_error = FAILED, _describe(exc)
    if event.attempts >= MAX_ATTEMPTS:
        event.status = DEAD
    else:
        event.next_attempt_at = now + retry_delay(event.attempts)


def _mark_conflict(event: WebhookEvent, exc: Exception, now: datetime) -> None:
    """The handler lost a deadlock (say, to a batch of spends locking two wallets in the
    other order): no fault of the event, so not one of its attempts, and due again soon."""
    event.status, event.last_error = FAILED, _describe(exc)
    event.next_attempt_at = now + CONFLICT_RETRY


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]


def _report(outcomes: list[_Outcome]) -> None:
    """Metrics, logs and alerts of committed outcomes only."""
    for outcome in outcomes:
        event, status = outcome.event, outcome.status
        series(WEBHOOK_PROCESSED, event.type, status).inc()
        if status in (FAILED, DEAD):
            SPIKES.note("webhook_failure")
        if status == FAILED:
            logger.warning(
                "webhook_event_failed",
                event_id=event.stripe_event_id,
                type=event.type,
                attempts=event.attempts,
                error=type(outcome.error).__name__,
            )
        elif status == DEAD:
            WEBHOOK_DEAD_EVENTS.inc()
            alert(
                "webhook_event_dead",
                event_id=event.stripe_event_id,
                type=event.type,
                attempts=event.attempts,
                error=event.last_error,
            )
        else:
            assert event.processed_at is not None
            lag = (event.processed_at - event.received_at).total_seconds()
            WEBHOOK_LAG.observe(lag)
            logger.debug(
                "webhook_event_done",
                event_id=event.stripe_event_id,
                type=event.type,
                status=status,
                lag_seconds=lag,
            )
