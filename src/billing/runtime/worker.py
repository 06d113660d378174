"""`billing worker`: the inbox worker and its periodic jobs as a process of their own."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog
from prometheus_client import CONTENT_TYPE_LATEST

from billing.compliance.jobs import periodic_jobs
from billing.core.config import ConfigurationError, Settings
from billing.core.errors import BillingError
from billing.db import server_settings
from billing.db.engine import Database
from billing.http.health import not_ready
from billing.http.ledger_metrics import count_ledger_operations
from billing.http.metrics import authorize_scrape, exposition
from billing.runtime import probes
from billing.stripe.client import create_client
from billing.webhooks.worker import BATCH, POLL_INTERVAL, worker_task

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Probes:
    """Where `billing worker` answers its orchestrator's probes (`probes.py`)."""

    port: int
    host: str = "0.0.0.0"  # noqa: S104  # the kubelet probes the pod's address


async def run_process(
    settings: Settings, poll_interval: float = POLL_INTERVAL, probes: Probes | None = None
) -> bool:
    """`billing worker`: run until SIGTERM or SIGINT, finishing the event in hand;
    False if another process already runs this SQLite database's worker."""
    count_ledger_operations()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    database = Database(settings)
    try:
        await _check_pooled_settings(settings, database)
        jobs = periodic_jobs(settings, database)
        client = create_client(settings)
        async with worker_task(settings, database, client, stop, jobs, poll_interval) as task:
            if task is None:
                return False
            async with _probes_served(probes, task, settings, database):
                logger.info("worker_started", batch=BATCH.get(database.dialect, 1))
                await task
        return True
    finally:
        await database.dispose()


async def _check_pooled_settings(settings: Settings, database: Database) -> None:
    """Behind PgBouncer, refuse to start on connections without the service's settings."""
    async with database.autocommit() as connection:
        problem = await server_settings.problem(connection, settings)
    if problem is not None:
        raise ConfigurationError(problem)


@asynccontextmanager
async def _probes_served(
    where: Probes | None, task: asyncio.Task[None], settings: Settings, database: Database
) -> AsyncIterator[None]:
    if where is None:
        yield
        return
    server = await probes.start(where.port, where.host, _routes(task, settings, database))
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


def _routes(
    task: asyncio.Task[None], settings: Settings, database: Database
) -> dict[str, probes.Route]:
    async def healthz(headers: Mapping[str, str]) -> probes.Answer:
        return probes.Answer.verdict("The worker has stopped." if task.done() else None)

    async def readyz(headers: Mapping[str, str]) -> probes.Answer:
        return probes.Answer.verdict(await not_ready(database, settings))

    async def metrics(headers: Mapping[str, str]) -> probes.Answer:
        try:
            authorize_scrape(settings, headers.get("authorization", ""))
        except BillingError as exc:
            return probes.Answer.json(exc.status, status="refused", detail=exc.detail)
        return probes.Answer(200, exposition(), CONTENT_TYPE_LATEST)

    return {"/healthz": healthz, "/readyz": probes.shared(readyz), "/metrics": metrics}
