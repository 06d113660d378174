"""Group commit: while a process's writes of one kind are in flight, new ones queue and
then go together, in one transaction with one commit.

On PostgreSQL a short write's commit costs more than the write, and a hot row makes
every writer queue for its lock: a commit per spend left PostgreSQL busy with commits and
a hot wallet's spends waiting in line (`bench/spend.py`; the figures, before and after,
are in docs/performance.md).

Invariants:
- an item is written at most once: it sits in exactly one batch, and a batch is atomic;
- each item gets its own answer, as if it had been written alone;
- batches write their items sorted by `order` (stably, so equal keys keep arrival
  order): they take row locks in one order and never deadlock one another. A batch
  that another transaction deadlocks (or any rollback PostgreSQL asks to retry) has
  written nothing, and its items are written one by one instead;
- a waiting request that goes away does not stop the others: batches run in a task of
  their own, and an item whose request was cancelled before its batch started is dropped.

The cost: an item waits for the writes in flight before its own, and a row locked for
long by another transaction delays the items batched with one of its writers.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from billing.core.errors import ServiceUnavailable
from billing.db.conflicts import lost_a_conflict
from billing.db.engine import Database

Item = TypeVar("Item")
Answer = TypeVar("Answer")
IN_FLIGHT = 2  # writes at once per process: one waiting on a lock does not stop all
# SQLite has one writer: a second write in flight would only wait for the write turn, and
# commit one item alone while the queue behind it grows.
IN_FLIGHT_SQLITE = 1
MAX_BATCH = 100


@dataclass(slots=True)
class _Waiting(Generic[Item, Answer]):
    item: Item
    answer: asyncio.Future[Answer] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(slots=True)
class _Queue(Generic[Item, Answer]):
    limit: int
    in_flight: int = 0
    waiting: list[_Waiting[Item, Answer]] = field(default_factory=list)


class GroupCommit(Generic[Item, Answer]):
    """`write(database, item)`: alone if a place is free, else in the next batch."""

    def __init__(
        self,
        alone: Callable[[Database, Item], Awaitable[Answer]],
        together: Callable[[Database, list[Item]], Awaitable[list[Answer]]],
        order: Callable[[Item], Any],
    ) -> None:
        self._alone, self._together, self._order = alone, together, order
        self._queues: weakref.WeakKeyDictionary[Database, _Queue[Item, Answer]] = (
            weakref.WeakKeyDictionary()
        )
        self._draining: set[asyncio.Task[None]] = set()  # referenced until done

    def idle(self, database: Database) -> bool:
        queue = self._queues.get(database)
        return queue is None or (queue.in_flight, queue.waiting) == (0, [])

    async def write(self, database: Database, item: Item) -> Answer:
        queue = self._queues.get(database)
        if queue is None:  # once per database: no new _Queue built on every write
            limit = IN_FLIGHT_SQLITE if database.dialect == "sqlite" else IN_FLIGHT
            queue = self._queues[database] = _Queue(limit)
        if queue.in_flight >= queue.limit:
            waiting: _Waiting[Item, Answer] = _Waiting(item)
            queue.waiting.append(waiting)
            return await waiting.answer
        queue.in_flight += 1
        try:
            return await self._alone(database, item)
        finally:
            self._drain_or_release(database, queue)

    def _drain_or_release(self, database: Database, queue: _Queue[Item, Answer]) -> None:
        """The finished write's place goes to the queue, if anything waits in it."""
        if queue.waiting:
            task = asyncio.create_task(self._drain(database, queue))
            self._draining.add(task)
            task.add_done_callback(self._draining.discard)
        else:
            queue.in_flight -= 1

    async def _drain(self, database: Database, queue: _Queue[Item, Answer]) -> None:
        """Write the queue in batches until it is empty; new items keep joining it."""
        batch: list[_Waiting[Item, Answer]] = []
        try:
            while queue.waiting:
                waiting = queue.waiting
                batch = [w for w in waiting[:MAX_BATCH] if not w.answer.done()]
                queue.waiting = waiting[MAX_BATCH:]
                await self._write_batch(database, batch)
        finally:  # if cancelled (the service stopping), nobody is left waiting forever
            queue.in_flight -= 1
            left = batch
            if queue.in_flight == 0:  # else the write still in flight drains the queue
                left, queue.waiting = [*batch, *queue.waiting], []
            for w in left:
                _settle(w, ServiceUnavailable("The service stopped before answering."))

    async def _write_batch(self, database: Database, batch: list[_Waiting[Item, Answer]]) -> None:
        batch.sort(key=lambda w: self._order(w.item))
        try:
            answers = await self._write_together(database, [w.item for w in batch])
        except Exception as exc:  # each request answers it as it would its own failure
            for w in batch:
                _settle(w, exc)
            return
        for w, answer in zip(batch, answers, strict=True):
            _settle(w, answer)

    async def _write_together(self, database: Database, items: list[Item]) -> list[Answer]:
        try:
            return await self._together(database, items)
        except Exception as exc:
            if not lost_a_conflict(exc):
                raise
            return [await self._alone(database, item) for item in items]  # it wrote nothing


def _settle(waiting: _Waiting[Any, Any], answer: object) -> None:
    """Answer a waiting item, unless its request is gone or it was answered already."""
    if waiting.answer.done():
        return
    if isinstance(answer, Exception):
        waiting.answer.set_exception(answer)
    else:
        waiting.answer.set_result(answer)
