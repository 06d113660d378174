"""A soak: the service under a steady mixed load for minutes, watched for slow leaks.

Starts `billing serve` (2 uvicorn workers) and one `billing worker` on a scratch
PostgreSQL database with funded wallets, then for --minutes drives, at steady rates:
spends by random users (their own JWTs, a new Idempotency-Key each), signed top-up
webhook deliveries, and admin dashboard reads. Every --interval seconds it samples the
resident memory and open file descriptors of the service's processes and the worker's,
the connections open to the database (pg_stat_activity), and each stream's rate, p99
latency and errors. Benchmarks show speed; only a long steady run shows what grows.

The verdict, from the second half (after warm-up): no request failed; the least-squares
slope of the service's and the worker's memory is under --max-rss-slope MiB/min; the
connections never exceeded the pools (DATABASE_POOL_SIZE per process); every webhook was
processed; `billing verify-ledger` holds; and the wallets hold exactly their funding plus
the acknowledged top-ups minus the acknowledged spends. Exits 1 if any check fails.

    python bench/soak.py [--minutes 10] [--interval 10] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import asyncpg
from common import (
    PG_ADMIN,
    async_url,
    billing_cli,
    fund_wallets,
    psql,
    say,
    scratch_database,
    service,
    timed,
    tokens,
)
from procstat import Usage, children_running, process_tree, usage
from soak_load import Stream, dashboard_reads, drive, spends, top_ups
from soak_report import Sample, Verdict, judge, sample_row, samples_table

from billing.migrations import upgrade
from tests.support.worker import worker_process

FUNDING = 10**9  # credits per wallet: no spend can run out
SECRET = "whsec_soak"  # noqa: S105 (the soak's own throwaway secret)
SERVICE_ENV = {"STRIPE_WEBHOOK_SECRET": SECRET, "BILLING_RUN_WORKER": "false"}
DRAIN_TIMEOUT, DRAIN_POLL = 120.0, 0.5
CONNECTIONS_SQL = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
INBOX_SQL = (
    "SELECT count(*) FILTER (WHERE status = 'pending'),"
    " count(*) FILTER (WHERE status IN ('failed', 'dead')), count(*) FROM webhook_events"
)


@dataclass
class Sampler:
    """Takes the samples: the service's process tree and the worker's (memory, files, CPU
    since the last sample), the database's connections, each stream's last window."""

    service: int
    worker: int
    streams: list[Stream]
    db: asyncpg.Connection
    started: float = field(default_factory=time.monotonic)
    last: float = field(default_factory=time.monotonic)
    cpu: tuple[float, float] = (0.0, 0.0)

    async def take(self) -> Sample:
        now, service, worker = time.monotonic(), self.usage(self.service), self.usage(self.worker)
        window, cpu = now - self.last, (service.cpu_seconds, worker.cpu_seconds)
        busy = [100 * (new - old) / window for new, old in zip(cpu, self.cpu, strict=True)]
        self.last, self.cpu = now, cpu
        windows = {stream.name: stream.take_window() for stream in self.streams}
        return Sample(
            minutes=(now - self.started) / 60,
            service_rss_mib=service.rss_mib,
            worker_rss_mib=worker.rss_mib,
            service_cpu_pct=busy[0],
            worker_cpu_pct=busy[1],
            connections=int(await self.db.fetchval(CONNECTIONS_SQL)),
            fds=service.fds + worker.fds,
            rates={name: len(w.latencies_ms) / window for name, w in windows.items()},
            p99_ms={name: w.p99() for name, w in windows.items()},
            errors=sum(stream.errors for stream in self.streams),
            load=os.getloadavg()[0],
        )

    @staticmethod
    def usage(root: int) -> Usage:
        return usage(process_tree(root))


async def run_load(
    base_url: str,
    database: str,
    roots: tuple[int, int],
    streams: list[Stream],
    interval: float,
    seconds: float,
) -> list[Sample]:
    """Drive every stream for `seconds` while sampling every `interval`; then drain the inbox.

    Samples are taken strictly inside the run, on a fixed schedule: one taken as the load
    stops would see its connections closing and bend every trend at the end."""
    db = await asyncpg.connect(f"{PG_ADMIN}/{database}")
    try:
        sampler = Sampler(*roots, streams, db)
        sampler.cpu = (sampler.usage(roots[0]).cpu_seconds, sampler.usage(roots[1]).cpu_seconds)
        load = asyncio.gather(*(drive(stream, base_url, seconds) for stream in streams))
        samples: list[Sample] = []
        for tick in range(1, math.ceil(seconds / interval)):
            due = sampler.started + tick * interval
            await asyncio.wait([load], timeout=max(0.0, due - time.monotonic()))
            if load.done():
                break
            samples.append(await sampler.take())
            say(sample_row(samples[-1]))
        await load
        await drain(db)
    finally:
        await db.close()
    return samples


async def drain(db: asyncpg.Connection) -> None:
    """Wait until the worker has taken every event (or the timeout)."""
    for _ in range(int(DRAIN_TIMEOUT / DRAIN_POLL)):
        if not await db.fetchval(INBOX_SQL):  # the first column: still pending
            return
        await asyncio.sleep(DRAIN_POLL)


@contextmanager
def running(database: str, workdir: Path, workers: int) -> Iterator[tuple[str, tuple[int, int]]]:
    """The service and one inbox worker; (the service's pid, the worker's) for sampling."""
    say(f"starting the service ({workers} workers) and an inbox worker ...")
    started = time.monotonic()
    with (
        service(database, workers, extra_env=SERVICE_ENV) as base_url,
        worker_process(async_url(database), workdir) as worker,
    ):
        say(f"  up in {time.monotonic() - started:.1f} s")
        roots = children_running(os.getpid(), " billing serve ")
        if len(roots) != 1:
            raise RuntimeError(f"expected one `billing serve` child, found {roots}")
        yield base_url, (roots[0], worker.pid)


def ledger_checks(database: str, users: int, streams: dict[str, Stream]) -> dict[str, str]:
    """verify-ledger's last line, the wallets' total and what they should hold, the inbox
    and how many events the service acknowledged as new."""
    verified = billing_cli(database, "verify-ledger", check=False)
    expected = users * FUNDING + streams["webhooks"].credits - streams["spends"].credits
    held = psql(database, "SELECT sum(balance) FROM credit_accounts WHERE kind = 'wallet'")
    return {
        "verify_ledger": (verified.stdout.strip().splitlines() or ["(no output)"])[-1],
        "verify_ledger_exit": str(verified.returncode),
        "wallets_hold": held,
        "wallets_expected": str(expected),
        "inbox": psql(database, INBOX_SQL),  # pending|failed or dead|total
        "webhooks_acknowledged": str(streams["webhooks"].acknowledged),
    }


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    # Steady, not saturating: a shared 2-core machine keeps up with these with room to spare,
    # so what grows is the service's doing, not a queue in front of it.
    parser.add_argument("--spend-rate", type=float, default=30.0, help="per second")
    parser.add_argument("--webhook-rate", type=float, default=10.0, help="per second")
    parser.add_argument("--dashboard-rate", type=float, default=0.5, help="per second")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--pool-size", type=int, default=20, help="DATABASE_POOL_SIZE")
    parser.add_argument("--max-rss-slope", type=float, default=1.0, help="MiB per minute")
    parser.add_argument("--database", default="billing_soak", help="scratch database name")
    parser.add_argument("--json", type=Path, help="also write the samples and verdict here")
    return parser.parse_args()


def soak(args: argparse.Namespace, streams: dict[str, Stream]) -> tuple[list[Sample], Verdict]:
    """Prepare, run, check the ledger, judge."""
    with scratch_database(args.database) as database, tempfile.TemporaryDirectory() as tmp:
        with timed(f"migrating, funding {args.users:,} wallets"):
            upgrade(async_url(database))
            fund_wallets(database, args.users, FUNDING)
        with running(database, Path(tmp), args.workers) as (base_url, roots):
            rates = ", ".join(f"{s.name} {s.rate:g}/s" for s in streams.values())
            say(f"service up at {base_url}; {args.minutes:g} min of {rates}\n{sample_row(None)}")
            seconds = args.minutes * 60
            load = run_load(base_url, database, roots, [*streams.values()], args.interval, seconds)
            samples = asyncio.run(load)
        with timed("verify-ledger, the ledger's totals"):
            ledger = ledger_checks(database, args.users, streams)
    pools = args.pool_size * (args.workers + 1)
    return samples, judge(samples, list(streams.values()), ledger, pools, args.max_rss_slope)


def main() -> None:
    args = parse()
    os.environ["DATABASE_POOL_SIZE"] = str(args.pool_size)  # the service's and the worker's
    streams = {
        "spends": spends(args.spend_rate, tokens(args.users)),
        "webhooks": top_ups(args.webhook_rate, args.users, SECRET),
        "dashboard": dashboard_reads(args.dashboard_rate, tokens(1, "admin")[0]),
    }
    samples, verdict = soak(args, streams)
    print(f"{samples_table(samples)}\n\n{verdict.text()}")
    if args.json:
        document = {"samples": [asdict(s) for s in samples], "verdict": asdict(verdict)}
        args.json.write_text(json.dumps(document, indent=2))
    sys.exit(0 if verdict.ok else 1)


if __name__ == "__main__":
    main()
