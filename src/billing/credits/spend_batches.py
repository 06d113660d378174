"""Spends on a wallet that is busy in this process wait and then go together, as one batch.

Concurrent spends on one wallet serialize on its row: each holds the row lock for a
round trip and a commit, so a hot wallet's throughput is one commit at a time and its
latency grows with the queue in front of the lock (pgbench's own p99 on one row is
hundreds of milliseconds at 64 clients). Here, while one spend on a wallet is in flight,
the next ones queue in the process; when it finishes, all of them are posted by one
batch (`postgres.post_debits`): the same statement per spend, run in arrival order in
one transaction, so each is checked against the balance the previous ones left. One
commit then serves the whole queue.

Invariants:
- a spend is posted at most once: it sits in exactly one batch, and a batch is atomic;
- a spend's answer is what its own statement did (posted with its balance, or refused);
- a waiting request that goes away does not stop the others: the batch runs in a task
  of its own, and a spend whose request was cancelled before its batch started is dropped.

Only spends without a client idempotency key are batched (`postgres.post_debits` says
why); keyed ones take the single statement.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from billing.credits import postgres
from billing.db import Database
from billing.errors import ServiceUnavailable

MAX_BATCH = 100


@dataclass(slots=True)
class _Waiting:
    arguments: postgres.Arguments
    outcome: asyncio.Future[postgres.Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


# Wallets with a spend in flight in this process -> the spends queued behind it.
_busy: dict[tuple[Database, int], list[_Waiting]] = {}
_draining: set[asyncio.Task[None]] = set()  # a reference each, so none is collected mid-run


async def debit(database: Database, arguments: postgres.Arguments) -> postgres.Outcome:
    """(transaction id, balance after), or None if refused, as `postgres.post_once`."""
    wallet = (database, arguments[postgres.USER_ID])
    queue = _busy.get(wallet)
    if queue is not None:
        waiting = _Waiting(arguments)
        queue.append(waiting)
        return await waiting.outcome
    _busy[wallet] = []
    try:
        return await postgres.post_once(database, postgres.DEBIT, arguments)
    finally:
        _drain_or_release(wallet)


def _drain_or_release(wallet: tuple[Database, int]) -> None:
    if _busy[wallet]:
        task = asyncio.create_task(_drain(wallet))
        _draining.add(task)
        task.add_done_callback(_draining.discard)
    else:
        del _busy[wallet]


async def _drain(wallet: tuple[Database, int]) -> None:
    """Post the queue in batches until it is empty; new spends keep joining it meanwhile."""
    batch: list[_Waiting] = []
    try:
        while queue := _busy[wallet]:
            batch = [waiting for waiting in queue[:MAX_BATCH] if not waiting.outcome.done()]
            _busy[wallet] = queue[MAX_BATCH:]
            await _post(wallet[0], batch)
    finally:  # cancelled (the service stopping): no request is left waiting forever
        for waiting in batch + _busy.pop(wallet):
            _settle(waiting, ServiceUnavailable("The service stopped before answering; retry."))


async def _post(database: Database, batch: list[_Waiting]) -> None:
    try:
        outcomes = await postgres.post_debits(database, [w.arguments for w in batch])
    except Exception as exc:  # each request answers it as it would its own failure
        for waiting in batch:
            _settle(waiting, exc)
        return
    for waiting, outcome in zip(batch, outcomes, strict=True):
        _settle(waiting, outcome)


def _settle(waiting: _Waiting, outcome: postgres.Outcome | Exception) -> None:
    """Answer a waiting spend, unless its request is gone or it was answered already."""
    if waiting.outcome.done():
        return
    if isinstance(outcome, Exception):
        waiting.outcome.set_exception(outcome)
    else:
        waiting.outcome.set_result(outcome)
