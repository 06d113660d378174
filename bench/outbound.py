"""Webhooks to the platform: deliveries per second from the outbox to a local receiver.

Seeds the outbox of a scratch PostgreSQL database with `--messages` messages and one
endpoint subscribed to them (a bare ASGI receiver under uvicorn, 2 workers, answering
204 at once: `baseline_app.receiver`), then starts `--workers` `billing worker`
processes and times them until every message is delivered: fan-out, claims with SKIP
LOCKED, signing, the request and its record, all in. Prints deliveries per second and
the attempts made (one per delivery when nothing is sent twice).

    python bench/outbound.py [--messages 20000] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory

from common import (
    Figures,
    async_url,
    baseline,
    psql,
    say,
    scratch_database,
    table,
    write_json,
)

from billing.core.config import Settings
from billing.db.engine import Database
from billing.migrations import upgrade
from billing.outbound import service

SEED = """
INSERT INTO webhook_messages (message_id, type, user_id, body, created_at)
SELECT 'msg_bench_' || n, 'credits.low', n,
       '{{"type":"credits.low","timestamp":"2026-12-05T00:00:00Z","data":{{"user_id":' || n
       || ',"balance":5}}}}', now()
FROM generate_series(1, {messages}) AS n;
ANALYZE;
"""
DELIVERED = "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'"
ATTEMPTS = "SELECT count(*) FROM webhook_attempts"
TIMEOUT_SECONDS = 300


async def endpoint(settings: Settings, url: str, events: tuple[str, ...] = ("*",)) -> None:
    database = Database(settings)
    try:
        async with database.sessions() as session:
            await service.create(
                session, settings, url=url, events=list(events), description="bench", actor="bench"
            )
    finally:
        await database.dispose()


def worker_setup(database: str, data_dir: str) -> tuple[dict[str, str], Settings]:
    """The environment of `billing worker` processes on the scratch database, and the same
    settings for this process (`data_dir` holds the key that encrypts endpoint secrets)."""
    env = {
        **os.environ,
        "DATABASE_URL": async_url(database),
        "BILLING_ENV": "development",
        "BILLING_DATA_DIR": data_dir,
    }
    settings = Settings(
        _env_file=None,
        BILLING_ENV="development",
        DATABASE_URL=env["DATABASE_URL"],
        BILLING_DATA_DIR=Path(data_dir),
    )
    return env, settings


def workers(env: dict[str, str], count: int, stack: ExitStack) -> None:
    for _ in range(count):
        log = stack.enter_context(open(os.devnull, "wb"))  # noqa: SIM115 (closed by the stack)
        worker = subprocess.Popen(
            [sys.executable, "-m", "billing", "worker"], env=env, stdout=log, stderr=log
        )
        stack.callback(worker.wait, 10)
        stack.callback(worker.terminate)


def _delivered_per_second(database: str, messages: int) -> float:
    """From the first delivery (the workers' start-up left out) until every message is
    delivered."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    first = 0
    while (delivered := int(psql(database, DELIVERED))) < messages:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{delivered:,} of {messages:,} delivered in {TIMEOUT_SECONDS} s")
        if delivered and not first:
            first, started = delivered, time.monotonic()
        time.sleep(0.02)
    return (messages - first) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with (
        scratch_database("billing_bench_outbound") as database,
        TemporaryDirectory() as data_dir,
        baseline(None, app="baseline_app:receiver", probe="/") as receiver,
    ):
        upgrade(async_url(database))
        env, settings = worker_setup(database, data_dir)
        asyncio.run(endpoint(settings, f"{receiver}/hooks"))
        psql(database, SEED.format(messages=args.messages))
        say(f"{args.messages:,} messages in the outbox; {args.workers} workers sending ...")
        with ExitStack() as running:
            workers(env, args.workers, running)
            rate = _delivered_per_second(database, args.messages)
        attempts = int(psql(database, ATTEMPTS))

    figures = {"deliveries": Figures(f"deliveries, {args.workers} workers", rate)}
    print("\n" + table(list(figures.values())))
    print(f"{args.messages:,} delivered with {attempts:,} attempts")
    print(f"deliveries per second: {rate:,.0f} (target >= 1,000)")
    if args.json:
        write_json(args.json, figures, attempts=attempts, messages=args.messages)


if __name__ == "__main__":
    main()
