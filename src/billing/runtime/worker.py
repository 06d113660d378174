"""`billing worker`: the inbox worker and its periodic jobs as a process of their own."""

from __future__ import annotations

import asyncio
import signal

import structlog

from billing.compliance.jobs import periodic_jobs
from billing.core.config import ConfigurationError, Settings
from billing.db import server_settings
from billing.db.engine import Database
from billing.http.ledger_metrics import count_ledger_operations
from billing.stripe.client import create_client
from billing.webhooks.worker import BATCH, POLL_INTERVAL, worker_task

logger = structlog.get_logger(__name__)


async def run_process(settings: Settings, poll_interval: float = POLL_INTERVAL) -> bool:
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
            logger.info("worker_started", batch=BATCH.get(database.dialect, 1))
            await task
        return True
    finally:
        await database.dispose()


async def _check_pooled_settings(settings: Settings, database: Database) -> None:
    """Behind PgBouncer, refuse to start on connections without the service's settings."""
    if not settings.DATABASE_PGBOUNCER:
        return
    async with database.autocommit() as connection:
        problem = await server_settings.problem(connection, settings)
    if problem is not None:
        raise ConfigurationError(problem)
