"""SQLite's one writer: the process's write transactions take turns in arrival order, never
meeting SQLite's busy handler, and every way a transaction ends gives the turn back."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from billing.core.errors import InsufficientCredits, ServiceUnavailable
from billing.credits import service, stepwise
from billing.credits.accounts import ADMIN_GRANT, SPEND
from billing.credits.transfers import Transfer
from billing.credits.verify import verify_ledger
from billing.db import sqlite
from billing.db.engine import Database

WRITERS = 24


def busy_waits(sqlite_database: Database) -> list[str]:
    """Statements that would have waited in SQLite's busy handler: made to fail at once."""
    failed: list[str] = []

    @event.listens_for(sqlite_database.engine.sync_engine, "connect")
    def _no_waiting(dbapi_connection: object, _: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    @event.listens_for(sqlite_database.engine.sync_engine, "handle_error")
    def _record(context: object) -> None:
        failed.append(str(getattr(context, "original_exception", "")))

    return failed


async def test_write_transactions_take_turns_in_arrival_order(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = busy_waits(sqlite_database)
    asked: list[str] = []
    take = sqlite.WriteQueue.take

    async def recorded(self: sqlite.WriteQueue, connection: object) -> None:
        asked.append(asyncio.current_task().get_name())  # type: ignore[union-attr]
        await take(self, connection)

    async with sqlite_database.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE turns (n INTEGER)"))
    monkeypatch.setattr(sqlite.WriteQueue, "take", recorded)
    inside, most_inside, order = 0, 0, []

    async def write(n: int) -> None:
        nonlocal inside, most_inside
        async with sqlite_database.sessions() as session, session.begin():
            await session.execute(text("INSERT INTO turns VALUES (:n)"), {"n": n})  # BEGINs
            inside += 1
            most_inside = max(most_inside, inside)
            order.append(f"writer {n}")
            await asyncio.sleep(0.002)  # other writers arrive meanwhile
            inside -= 1

    await asyncio.gather(
        *(asyncio.create_task(write(n), name=f"writer {n}") for n in range(WRITERS))
    )
    assert failed == []  # not one "sqlite_database is locked": nobody met the busy handler
    assert most_inside == 1
    assert order == asked
    async with sqlite_database.sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM turns")) == WRITERS


async def test_a_rollback_an_error_and_a_closed_session_give_the_turn_back(
    sqlite_database: Database,
) -> None:
    async with sqlite_database.sessions() as session, session.begin():
        await session.execute(text("CREATE TABLE t (n INTEGER UNIQUE)"))

    async def give_up() -> None:
        async with sqlite_database.sessions() as session, session.begin():
            await session.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("the caller gave up")

    async def break_a_constraint() -> None:
        async with sqlite_database.sessions() as session, session.begin():
            await session.execute(text("INSERT INTO t VALUES (2)"))
            await session.execute(text("INSERT INTO t VALUES (2)"))

    with pytest.raises(RuntimeError):
        await give_up()
    with pytest.raises(IntegrityError):
        await break_a_constraint()
    session = sqlite_database.sessions()
    await session.execute(text("INSERT INTO t VALUES (3)"))  # begins, never committed
    await session.close()
    async with asyncio.timeout(2):  # the turn is free: no wait for the 10 s timeout
        async with sqlite_database.sessions() as session, session.begin():
            await session.execute(text("INSERT INTO t VALUES (4)"))
    async with sqlite_database.sessions() as session:
        assert list(await session.scalars(text("SELECT n FROM t ORDER BY n"))) == [4]


async def test_reads_in_autocommit_do_not_wait_for_the_writer(sqlite_database: Database) -> None:
    async with sqlite_database.sessions() as writer, writer.begin():
        await writer.execute(text("CREATE TABLE r (n INTEGER)"))
        async with asyncio.timeout(2), sqlite_database.autocommit() as reader:
            assert (await reader.execute(text("SELECT 1"))).scalar() == 1


async def test_a_turn_held_too_long_answers_service_unavailable(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT_SECONDS", 0.2)
    async with sqlite_database.sessions() as holder, holder.begin():
        await holder.execute(text("CREATE TABLE h (n INTEGER)"))
        with pytest.raises(ServiceUnavailable):
            async with sqlite_database.sessions() as session, session.begin():
                await session.execute(text("INSERT INTO h VALUES (1)"))
    async with sqlite_database.sessions() as session, session.begin():  # and the turn came back
        await session.execute(text("INSERT INTO h VALUES (2)"))


@pytest.fixture
def groups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every group of spends committed together (the real ones are posted)."""
    sizes: list[int] = []
    together = stepwise.SPENDS._together

    async def counted(db: Database, postings: list[stepwise.Posting]) -> list[stepwise.Outcome]:
        sizes.append(len(postings))
        return await together(db, postings)

    monkeypatch.setattr(stepwise.SPENDS, "_together", counted)
    return sizes


async def test_concurrent_spends_commit_in_groups_and_never_overdraw(
    sqlite_database: Database, groups: list[int]
) -> None:
    """More spends than credits, all at once: exactly the credits are spent, each spend is
    answered on its own, and they went through in fewer transactions than spends."""
    grant = Transfer(ADMIN_GRANT, 7, 40, actor="admin:1", idempotency_key="g", description="x")
    await service.post(sqlite_database, grant)

    async def spend() -> int | None:
        try:
            return (
                await service.post(sqlite_database, Transfer(SPEND, 7, 1, actor="user:7"))
            ).balance
        except InsufficientCredits:
            return None

    answers = await asyncio.gather(*(spend() for _ in range(60)))
    posted = sorted((a for a in answers if a is not None), reverse=True)
    assert posted == list(range(39, -1, -1))  # each balance after answered exactly once
    assert max(groups, default=0) > 1
    async with sqlite_database.sessions() as session, session.begin():
        report = await verify_ledger(session)
    assert report.ok, report


def queued(database: Database) -> int:
    queue = stepwise.SPENDS._queues.get(database)
    return 0 if queue is None else len(queue.waiting)


async def test_one_spend_in_flight_and_the_rest_in_one_group(
    sqlite_database: Database, groups: list[int]
) -> None:
    """SQLite has one writer: while a spend waits for the turn, those after it queue and go
    together once it is done, not one more of them alone (a commit of its own)."""
    await service.post(sqlite_database, Transfer(ADMIN_GRANT, 7, 40, actor="admin:1"))
    async with sqlite_database.sessions() as holder, holder.begin():
        await holder.execute(text("CREATE TABLE turn (n INTEGER)"))  # the write turn, held
        spends = [
            asyncio.ensure_future(service.post(sqlite_database, Transfer(SPEND, 7, 1, actor="u")))
            for _ in range(10)
        ]
        for _ in range(500):  # until the nine behind the first have queued
            if queued(sqlite_database) == 9:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail(f"{queued(sqlite_database)} spends queued behind the first, not 9")
    balances = sorted(posted.balance for posted in await asyncio.gather(*spends))
    assert balances == list(range(30, 40))
    assert groups == [9]


async def turns_taken(
    sqlite_database: Database, arrivals: list[tuple[str, bool, float]], hold: float
) -> list[str]:
    """Writers arriving at the given times (seconds; background or not), each holding the
    turn `hold` seconds: the order they got it in."""
    order: list[str] = []
    async with sqlite_database.sessions() as session, session.begin():
        await session.execute(text("CREATE TABLE w (name TEXT)"))

    async def write(name: str, in_background: bool, at: float) -> None:
        await asyncio.sleep(at)
        sqlite.background.set(in_background)
        async with sqlite_database.sessions() as session, session.begin():
            await session.execute(text("INSERT INTO w VALUES (:n)"), {"n": name})
            order.append(name)
            await asyncio.sleep(hold)

    await asyncio.gather(*(write(*arrival) for arrival in arrivals))
    return order


async def test_the_worker_lets_requests_write_first(sqlite_database: Database) -> None:
    """A background writer (the in-process worker) goes after the foreground writers that
    wait, even those that come while it waits; FIFO among the foreground ones."""
    arrivals = [("holder", False, 0), ("request 1", False, 0.02), ("worker", True, 0.04)]
    arrivals.append(("request 2", False, 0.06))
    order = await turns_taken(sqlite_database, arrivals, hold=0.1)
    assert order == ["holder", "request 1", "request 2", "worker"]


async def test_the_worker_waits_a_bounded_while(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `YIELD_SECONDS` it queues as anyone: requests arriving later go after it."""
    monkeypatch.setattr(sqlite, "YIELD_SECONDS", 0.2)
    arrivals = [("holder", False, 0), ("request 1", False, 0.02), ("worker", True, 0.04)]
    arrivals.append(("request 2", False, 0.4))
    order = await turns_taken(sqlite_database, arrivals, hold=0.5)
    assert order == ["holder", "request 1", "worker", "request 2"]
