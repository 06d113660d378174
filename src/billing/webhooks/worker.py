"""Running the inbox worker: a loop that takes due events a batch at a time and naps
briefly when there are none, beside the periodic jobs, as `billing worker` or inside
`billing serve` (embedded SQLite).

Stopping never interrupts an event: the loop checks its stop signal between events,
so the events in hand commit (or roll back) whole. A process killed outright loses
nothing either: its open transaction rolls back and the events stay due.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import stripe
import structlog
from sqlalchemy import make_url

from billing.core.config import Settings
from billing.core.foreground import FOREGROUND
from billing.db.engine import Database
from billing.db.sqlite import YIELD_SECONDS, background
from billing.obs.alerts import drain_alerts
from billing.webhooks.handlers import registry
from billing.webhooks.handlers.context import HandlerContext
from billing.webhooks.processing import Handler, has_due, process_batch

POLL_INTERVAL = 0.2  # seconds idle between looks: keeps processing lag well under a second

ERROR_PAUSE = 5.0  # after an unexpected failure (the database is down, say)

STOP_TIMEOUT = 30.0  # how long shutdown waits for the event in hand

# Events per transaction: one commit for many keeps up with Stripe's bursts
# (bench/webhooks.py). On SQLite a commit per event was a fifth of the worker's time
# (bench/worker.py --sqlite); fewer there, as the batch holds the process's write turn
# (about 3 ms an event) and every spend waits for it.
BATCH = {"postgresql": 25, "sqlite": 8}

# Batches in flight per process. A batch waits on PostgreSQL most of its time
# (py-spy of `billing worker` under bench/webhooks.py): a second one fills those waits.
# SKIP LOCKED keeps them apart, as it keeps worker processes apart. SQLite has one writer.
CONCURRENT_BATCHES = {"postgresql": 2, "sqlite": 1}


logger = structlog.get_logger(__name__)


async def run(
    database: Database,
    handlers: Mapping[str, Handler],
    stop: asyncio.Event,
    poll_interval: float = POLL_INTERVAL,
) -> None:
    """Process due events until `stop` is set. While busy it goes from one batch to
    the next; idle, it checks with a lock-free read every `poll_interval`."""
    busy = False
    batch = BATCH.get(database.dialect, 1)
    background.set(True)  # this task's writes let requests' go first (SQLite)
    # On SQLite requests and the worker share one process's core and write turn.
    shares_the_core = database.dialect == "sqlite"
    while not stop.is_set():
        if shares_the_core:
            await FOREGROUND.pause(YIELD_SECONDS)  # requests in flight first
        try:
            busy = (busy or await has_due(database)) and bool(
                await process_batch(database, handlers, batch, stop)
            )
        except Exception:  # the worker outlives outages: log, pause, try again
            logger.exception("worker_cycle_failed")
            busy = False
            await _pause(stop, ERROR_PAUSE)
            continue
        if not busy:
            await _pause(stop, poll_interval)


async def _run_concurrently(
    loops: int,
    database: Database,
    handlers: Mapping[str, Handler],
    stop: asyncio.Event,
    poll_interval: float,
) -> None:
    await asyncio.gather(*(run(database, handlers, stop, poll_interval) for _ in range(loops)))


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """Work a worker does beside the inbox, every `interval` seconds (first at start)."""

    name: str
    interval: float
    run: Callable[[], Awaitable[object]]


async def run_periodically(
    stop: asyncio.Event, interval: float, job: Callable[[], Awaitable[object]], name: str
) -> None:
    """Run `job` now and then every `interval` seconds until `stop` is set. A job that
    answers `True` has more to do at once: it runs again without the pause, so a backlog
    is worked off in short runs, each ending in a chance to stop. A failure is logged and
    the job tried again at its next turn; the jobs resume where they left off."""
    while not stop.is_set():
        try:
            more = await job()
        except Exception:
            logger.exception("periodic_job_failed", job=name)
            more = False
        if more is not True:
            await _pause(stop, interval)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, but wake at once when asked to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _lock_path(settings: Settings) -> Path | None:
    url = make_url(settings.DATABASE_URL)
    if not settings.is_sqlite or url.database in (None, "", ":memory:"):
        return None
    return Path(f"{url.database}.worker-lock")


@contextmanager
def sole_worker(settings: Settings) -> Iterator[bool]:
    """True if this process may run the worker. On a SQLite file only one process
    does (several uvicorn processes, or `billing worker` beside `billing serve`,
    would only contend for its write lock): an exclusive flock next to the database,
    released when the block ends or the process dies. PostgreSQL workers share the
    inbox safely (SKIP LOCKED), so there any number may run."""
    path = _lock_path(settings)
    if path is None:
        yield True
        return
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


@asynccontextmanager
async def worker_task(
    settings: Settings,
    database: Database,
    client: stripe.StripeClient | None,
    stop: asyncio.Event,
    jobs: Sequence[PeriodicJob] = (),
    poll_interval: float = POLL_INTERVAL,
) -> AsyncIterator[asyncio.Task[None] | None]:
    """The worker loop as a background task for the block's duration, with the real
    handlers, beside the periodic `jobs` (`billing.compliance.jobs`: retention, the audit
    log's sealer); None if another process already runs this SQLite database's worker.
    Leaving the block sets `stop` and waits for the events in hand (and each job's run
    in hand)."""
    with sole_worker(settings) as sole:
        if not sole:
            logger.info("worker_runs_elsewhere", reason="another process holds the SQLite lock")
            yield None
            return
        handlers = registry(HandlerContext(settings, client))
        loops = CONCURRENT_BATCHES.get(database.dialect, 1)
        task = asyncio.create_task(
            _run_concurrently(loops, database, handlers, stop, poll_interval)
        )
        periodic = [
            asyncio.create_task(run_periodically(stop, job.interval, job.run, job.name))
            for job in jobs
        ]
        try:
            yield task
        finally:
            stop.set()
            try:
                await asyncio.wait_for(asyncio.gather(task, *periodic), STOP_TIMEOUT)
            except TimeoutError:  # cancelled: its transaction rolls back, the event stays due
                logger.warning("worker_stop_timed_out", seconds=STOP_TIMEOUT)
            await drain_alerts()
