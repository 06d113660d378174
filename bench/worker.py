"""The inbox worker's own pace: how fast one process turns queued top-ups into credits.

Fills the inbox of a scratch PostgreSQL database (or, with --sqlite, a SQLite file) with
`payment_intent.succeeded` top-ups (the real handler: payment row, credits posted, audit
entries), then runs the
worker engine in this process, in batches as `billing worker` takes them, until the
inbox is empty. Prints events/s and the worker's CPU per event: the ceiling on the
processing rate of one worker process, without HTTP or other load on the machine.
Comparing two versions of the code on the same machine state (one after the other)
gives the ratio that the absolute figures, on a shared machine, cannot.

    python bench/worker.py [--events 3000] [--sqlite]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import uvloop
from common import Figures, say, scratch_url, table, write_json

from billing.core.config import Settings
from billing.credits.verify import verify_ledger
from billing.db.engine import Database
from billing.migrations import upgrade
from billing.obs.logs import configure_logging
from billing.webhooks.handlers import registry
from billing.webhooks.handlers.context import HandlerContext
from billing.webhooks.processing import process_due
from billing.webhooks.worker import BATCH
from tests.support.worker import file_events, topup_event

USERS = 500


async def drain(url: str, events: int) -> tuple[Figures, float, str]:
    """(events/s, CPU milliseconds per event, the ledger's verdict) of one drain."""
    settings = Settings(_env_file=None, BILLING_ENV="development", DATABASE_URL=url)
    configure_logging(settings)  # as `billing worker`: no per-event debug lines
    database = Database(settings)
    try:
        say(f"  filing {events:,} top-ups in the inbox ...")
        await file_events(
            database, settings, [topup_event(n % USERS + 1, 100) for n in range(events)]
        )
        handlers = registry(HandlerContext(settings, None))
        batch = BATCH[database.dialect]
        say(f"  draining, {batch} events per transaction ...")
        started, cpu = time.perf_counter(), time.process_time()
        done = await process_due(database, handlers, limit=events, batch=batch)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        async with database.sessions() as session:
            report = await verify_ledger(session)
        verdict = "ledger OK" if report.ok else f"LEDGER BROKEN: {report.failures}"
        figures = Figures("worker drain, top-ups, 1 process", done / seconds)
        return figures, cpu / done * 1000, verdict
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--sqlite", action="store_true", help="on a SQLite file instead")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with scratch_url("bench_worker", args.sqlite) as url:
        upgrade(url)
        figures, cpu_ms, verdict = uvloop.run(drain(url, args.events))
    print(table([figures]))
    print(f"worker CPU per event: {cpu_ms:.2f} ms; {verdict}")
    if args.json:
        write_json(args.json, {"drain": figures}, cpu_ms_per_event=cpu_ms)


if __name__ == "__main__":
    main()
