"""The inbox worker: effects and the processed mark commit together, exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit.models import AuditEntry
from billing.core.config import Settings
from billing.core.times import utcnow
from billing.credits.accounts import PURCHASE
from billing.credits.balances import balance
from billing.credits.service import post_within
from billing.credits.transfers import Transfer
from billing.credits.verify import verify_ledger
from billing.db.after_commit import after_commit
from billing.db.engine import Database
from billing.webhooks import inbox
from billing.webhooks.models import WebhookEvent
from billing.webhooks.processing import (
    CONFLICT_RETRY,
    MAX_ATTEMPTS,
    Handler,
    process_due,
    retry_delay,
)
from tests.support.stripe_events import FILING, stripe_event

USER = 5


async def grant(session: AsyncSession, event: WebhookEvent) -> None:
    key = f"test:{event.stripe_event_id}"
    await post_within(session, Transfer(PURCHASE, USER, 10, actor="stripe", idempotency_key=key))


async def grant_then_fail(session: AsyncSession, event: WebhookEvent) -> None:
    await grant(session, event)
    raise RuntimeError("the handler broke after writing")


async def receive(database: Database, count: int, event_type: str = "test.grant") -> None:
    for _ in range(count):
        async with database.sessions() as session:
            await inbox.receive(session, inbox.parse_event(stripe_event(event_type), FILING))


async def events(database: Database) -> list[WebhookEvent]:
    async with database.sessions() as session:
        return list((await session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))).all())


async def credits(database: Database) -> int:
    async with database.sessions() as session:
        return (await balance(session, USER)).balance


async def make_due(database: Database) -> None:
    async with database.sessions() as session, session.begin():
        await session.execute(update(WebhookEvent).values(next_attempt_at=utcnow()))


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


async def test_an_event_is_processed_once_with_its_effects(database: Database) -> None:
    await receive(database, 1)
    assert await process_due(database, {"test.grant": grant}, limit=10) == 1
    assert await process_due(database, {"test.grant": grant}, limit=10) == 0
    [event] = await events(database)
    assert (event.status, event.attempts, event.processed_at is not None) == ("processed", 1, True)
    assert await credits(database) == 10


async def test_a_failing_handler_leaves_no_effect_and_is_retried(database: Database) -> None:
    await receive(database, 1)
    assert await process_due(database, {"test.grant": grant_then_fail}, limit=10) == 1
    [event] = await events(database)
    assert event.status == "failed"
    assert event.attempts == 1
    assert event.last_error == "RuntimeError: the handler broke after writing"
    assert event.next_attempt_at > utcnow()
    assert await credits(database) == 0
    # Not due yet: nothing happens until the backoff has passed.
    assert await process_due(database, {"test.grant": grant}, limit=10) == 0
    await make_due(database)
    assert await process_due(database, {"test.grant": grant}, limit=10) == 1
    [event] = await events(database)
    assert (event.status, event.attempts, event.last_error) == ("processed", 2, None)
    assert await credits(database) == 10


# A real deadlock_detected error, raised by PostgreSQL as a lost deadlock would be.
DEADLOCK = "DO $$ BEGIN RAISE EXCEPTION 'staged' USING ERRCODE = 'deadlock_detected'; END $$"


async def lose_a_deadlock_through_sqlalchemy(session: AsyncSession) -> None:
    await session.execute(text(DEADLOCK))


async def lose_a_deadlock_through_the_driver(session: AsyncSession) -> None:
    """As the credit postings would: they run on the driver's connection."""
    driver = (await (await session.connection()).get_raw_connection()).driver_connection
    assert driver is not None
    await driver.execute(DEADLOCK)


@pytest.mark.parametrize(
    "lose", [lose_a_deadlock_through_sqlalchemy, lose_a_deadlock_through_the_driver]
)
async def test_an_event_that_lost_a_deadlock_is_due_again_at_once(
    pg: Database, lose: Callable[[AsyncSession], Awaitable[None]]
) -> None:
    async def grant_then_lose(session: AsyncSession, event: WebhookEvent) -> None:
        await grant(session, event)
        await lose(session)

    await receive(pg, 1)
    assert await process_due(pg, {"test.grant": grant_then_lose}, limit=10) == 1
    [event] = await events(pg)
    assert (event.status, event.attempts) == ("failed", 0)  # not one of its attempts
    assert "deadlock" in (event.last_error or "").lower()
    assert event.next_attempt_at <= utcnow() + CONFLICT_RETRY < utcnow() + retry_delay(1)
    assert await credits(pg) == 0
    await make_due(pg)
    assert await process_due(pg, {"test.grant": grant}, limit=10) == 1
    [event] = await events(pg)
    assert (event.status, event.attempts, event.last_error) == ("processed", 1, None)
    assert await credits(pg) == 10


async def test_an_event_that_always_fails_ends_dead(database: Database) -> None:
    await receive(database, 1)
    for _ in range(MAX_ATTEMPTS):
        await make_due(database)
        assert await process_due(database, {"test.grant": grant_then_fail}, limit=10) == 1
    [event] = await events(database)
    assert (event.status, event.attempts) == ("dead", MAX_ATTEMPTS)
    await make_due(database)
    assert await process_due(database, {"test.grant": grant}, limit=10) == 0
    assert await credits(database) == 0


async def test_unknown_types_are_stored_as_ignored(database: Database) -> None:
    await receive(database, 2, "customer.tax_id.created")
    assert await process_due(database, {"test.grant": grant}, limit=10) == 2
    assert {e.status for e in await events(database)} == {"ignored"}


def test_retries_back_off_exponentially_up_to_an_hour() -> None:
    delays = [retry_delay(n).total_seconds() for n in range(1, 11)]
    assert delays[:4] == [10, 20, 40, 80]
    assert delays[-1] == 3600
    assert delays == sorted(delays)


async def test_concurrent_workers_process_each_event_exactly_once(
    database: Database, settings: Settings
) -> None:
    await receive(database, 40)
    others = [Database(settings) for _ in range(2)]
    calls: Counter[str] = Counter()

    async def counted_grant(session: AsyncSession, event: WebhookEvent) -> None:
        calls[event.stripe_event_id] += 1
        await grant(session, event)

    handlers: dict[str, Handler] = {"test.grant": counted_grant}
    try:
        taken = await asyncio.gather(
            *(process_due(db, handlers, limit=100) for db in [database, *others])
        )
    finally:
        for db in others:
            await db.dispose()
    assert sum(taken) == 40
    assert len(calls) == 40
    assert set(calls.values()) == {1}, "an event was handled by two workers"
    processed = await events(database)
    assert [(e.status, e.attempts) for e in processed] == [("processed", 1)] * 40
    assert await credits(database) == 400
    async with database.sessions() as session, session.begin():
        assert (await verify_ledger(session)).ok


async def test_a_batch_commits_its_successes_and_records_its_failures(database: Database) -> None:
    """One transaction for the batch: a failing handler sends the batch back to be taken
    with a savepoint per event, so it takes back only its own writes, and its neighbours'
    effects and marks commit, each once."""
    await receive(database, 2)
    await receive(database, 1, "test.broken")
    await receive(database, 2)
    handlers: dict[str, Handler] = {"test.grant": grant, "test.broken": grant_then_fail}
    assert await process_due(database, handlers, limit=10, batch=10) == 5
    statuses = [(e.type, e.status, e.attempts) for e in await events(database)]
    assert statuses == [
        ("test.grant", "processed", 1),
        ("test.grant", "processed", 1),
        ("test.broken", "failed", 1),
        ("test.grant", "processed", 1),
        ("test.grant", "processed", 1),
    ]
    assert await credits(database) == 40


async def test_a_batch_taken_again_runs_each_after_commit_callback_once(
    database: Database,
) -> None:
    """The first pass of a batch that a handler breaks is rolled back: what its handlers
    asked to say after commit is never said for it."""
    said: list[str] = []

    async def grant_and_say(session: AsyncSession, event: WebhookEvent) -> None:
        await grant(session, event)
        after_commit(session, lambda: said.append(event.stripe_event_id))

    await receive(database, 2)
    await receive(database, 1, "test.broken")
    handlers: dict[str, Handler] = {"test.grant": grant_and_say, "test.broken": grant_then_fail}
    assert await process_due(database, handlers, limit=10, batch=10) == 3
    granted = [e.stripe_event_id for e in await events(database) if e.type == "test.grant"]
    assert said == granted


async def test_a_write_that_fails_at_flush_is_its_handlers_failure(database: Database) -> None:
    """A handler's pending ORM write fails when flushed, last in its batch: it is that
    event's failure, recorded, and its batch-mates' effects commit."""

    async def add_bad_row(session: AsyncSession, event: WebhookEvent) -> None:
        session.add(AuditEntry(created_at=utcnow(), actor=None, action="x", target="y"))

    await receive(database, 2)
    await receive(database, 1, "test.bad_write")
    handlers: dict[str, Handler] = {"test.grant": grant, "test.bad_write": add_bad_row}
    assert await process_due(database, handlers, limit=10, batch=10) == 3
    statuses = [(e.type, e.status, e.attempts) for e in await events(database)]
    assert statuses == [
        ("test.grant", "processed", 1),
        ("test.grant", "processed", 1),
        ("test.bad_write", "failed", 1),
    ]
    assert await credits(database) == 20
