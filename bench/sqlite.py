"""The embedded database: what one `billing serve` process does on SQLite, against raw
SQLite running the same transaction in the same run.

SQLite is what `make demo` and small deployments run. One process (SQLite has one writer,
and `billing serve` refuses more workers on it) with its in-process inbox worker, on a
database file with the service's settings (WAL, synchronous=FULL). Measures, in order:
- how long `billing serve` takes from its start to answering `/readyz` 200;
- raw SQLite: one connection looping `BEGIN IMMEDIATE; UPDATE wallet; INSERT entry;
  COMMIT` with the same settings (the baseline, as pgbench is on PostgreSQL);
- that transaction behind a bare FastAPI endpoint in one uvicorn process, from 32 wrk
  connections (bench/baseline_app.py's `sqlite_app`): what the HTTP stack alone leaves
  of raw SQLite's rate, before anything the service adds;
- spends of random users with their JWTs (three grants per wallet) from 1 and 32 wrk
  connections;
- signed Stripe webhooks acknowledged from 32 connections;
- the in-process worker draining what that flood left in the inbox (its pace);
- then its lag (processed_at - received_at) at a steady 200 events/s;
- the server process's resident memory after all of it.
Then `billing verify-ledger` must pass.

    python bench/sqlite.py [--seconds 10] [--users 1000] [--lag-rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
from common import (
    Figures,
    baseline,
    paced_posts,
    percentile,
    say,
    table,
    tokens,
    write_json,
    wrk,
)
from procstat import rss_bytes
from spend import WRK_SCRIPT
from webhooks import (
    SECRET,
    acknowledged,
    event_template,
    pool_size,
    post_events,
    signed_events,
    write_bodies,
)

from billing.core.config import Settings
from billing.credits import service
from billing.credits.accounts import ADMIN_GRANT
from billing.credits.grants import GrantTerms
from billing.credits.transfers import Transfer
from billing.db.engine import Database
from billing.migrations import upgrade
from tests.support.server import free_port

SEED_CREDITS = 10**9  # per grant: no spend runs out
ENV = {
    "BILLING_ENV": "development",
    "STRIPE_WEBHOOK_SECRET": SECRET,
    # One address sends everything here; the limits would refuse the load.
    "BILLING_RATE_LIMIT": "1000000/second",
    "BILLING_WEBHOOK_RATE_LIMIT": "1000000/second",
}
RAW_TABLES = """
CREATE TABLE bench_wallets (user_id INTEGER PRIMARY KEY, balance INTEGER NOT NULL
    CHECK (balance >= 0));
CREATE TABLE bench_entries (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,
    amount INTEGER NOT NULL, balance_after INTEGER NOT NULL, created_at TEXT NOT NULL);
"""
LAG_SQL = """
SELECT count(*), count(processed_at),
       (julianday(coalesce(processed_at, strftime('%Y-%m-%d %H:%M:%f', 'now')))
        - julianday(received_at)) * 86400000 AS lag
FROM webhook_events WHERE stripe_event_id LIKE 'evt_lag%' GROUP BY id ORDER BY lag
"""
READY_POLL_SECONDS = 0.02
ACK_PACE = 2000  # events/s the pre-signed pool is sized for (`wrapped` says if it ran out)
DRAIN_TIMEOUT = 60.0


def bare_endpoint(path: Path, seconds: int, env: dict[str, str]) -> Figures:
    """Raw SQLite's transaction (on its file) behind a bare FastAPI endpoint."""
    app, extra_env = "baseline_app:sqlite_app", {"BASELINE_SQLITE": str(path)}
    with baseline(None, workers=1, app=app, extra_env=extra_env) as base_url:
        wrk("warm-up", base_url, WRK_SCRIPT, 3, 32, env)
        name = "bare FastAPI + sqlite3, the same transaction, 32 connections"
        return wrk(name, base_url, WRK_SCRIPT, seconds, 32, env)


def raw_sqlite(path: Path, users: int, seconds: float) -> Figures:
    """The baseline: the spend's bare transaction, as fast as one connection runs it."""
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL"):
        connection.execute(f"PRAGMA {pragma}")
    connection.executescript(RAW_TABLES)
    rows = ((user, SEED_CREDITS) for user in range(1, users + 1))
    connection.executemany("INSERT INTO bench_wallets VALUES (?, ?)", rows)
    say(f"  raw SQLite: one connection, {seconds:.0f} s ...")
    latencies: list[float] = []
    started = time.perf_counter()
    user = 0
    while (now := time.perf_counter()) - started < seconds:
        user = user % users + 1
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "UPDATE bench_wallets SET balance = balance - 1 WHERE user_id = ? AND balance >= 1",
            (user,),
        )
        connection.execute(
            "INSERT INTO bench_entries (user_id, amount, balance_after, created_at)"
            " VALUES (?, -1, 0, datetime('now'))",
            (user,),
        )
        connection.execute("COMMIT")
        latencies.append((time.perf_counter() - now) * 1000)
    connection.close()
    latencies.sort()
    elapsed = time.perf_counter() - started
    name = "raw SQLite, the same transaction, one connection"
    rate = len(latencies) / elapsed
    return Figures(name, rate, percentile(latencies, 0.5), percentile(latencies, 0.99))


async def seed(url: str, users: int) -> None:
    """Three grants per wallet, as bench/spend.py's: a promotion expiring in 30 days, one
    expiring in a year, one that never does; posted by the service itself."""
    database = Database(Settings(_env_file=None, BILLING_ENV="development", DATABASE_URL=url))
    now = datetime.now(UTC)
    terms = [
        GrantTerms("promotion", None, now + timedelta(days=30)),
        GrantTerms("admin", None, now + timedelta(days=365)),
        GrantTerms("admin", None, None),
    ]
    for user in range(1, users + 1):
        for n, grant in enumerate(terms):
            await service.post(
                database,
                Transfer(
                    ADMIN_GRANT,
                    user,
                    SEED_CREDITS,
                    actor="bench",
                    idempotency_key=f"seed:{user}:{n}",
                    description="bench",
                    grant=grant,
                ),
            )
    await database.dispose()


@contextmanager
def serve(url: str, log: Path) -> Iterator[tuple[str, int, float]]:
    """`billing serve` (one process); its URL, pid, and seconds from start to ready."""
    port = free_port()
    env = {**os.environ, **ENV, "DATABASE_URL": url}
    command = [sys.executable, "-m", "billing", "serve", "--port", str(port), "--workers", "1"]
    base_url = f"http://127.0.0.1:{port}"
    with log.open("w") as output:
        started = time.monotonic()
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            ready = wait_ready(process, base_url, started)
            yield base_url, process.pid, ready
        finally:
            process.terminate()
            process.wait(timeout=30)


def wait_ready(process: subprocess.Popen[bytes], base_url: str, started: float) -> float:
    while time.monotonic() - started < 60:
        if process.poll() is not None:
            raise RuntimeError(f"billing serve exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(READY_POLL_SECONDS)
    raise TimeoutError("billing serve did not become ready")


PENDING_SQL = "SELECT count(*) FROM webhook_events WHERE processed_at IS NULL"


def drain(path: Path, timeout: float) -> Figures:
    """Wait for the in-process worker to process everything in the inbox (what the
    acknowledgement flood left); its pace while it does."""
    say("  the in-process worker drains the inbox ...")
    started = time.monotonic()
    first = left = _pending(path)
    while left and time.monotonic() - started < timeout:
        time.sleep(0.5)
        left = _pending(path)
    elapsed = time.monotonic() - started
    return Figures("in-process worker draining the flood", (first - left) / elapsed, errors=left)


def _pending(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute(PENDING_SQL).fetchone()[0])


def worker_lag(path: Path, base_url: str, rate: int, seconds: int) -> tuple[Figures, str]:
    """Post at a steady rate; the in-process worker's lag, from the inbox itself."""
    template = event_template()
    events = [(s, b.encode()) for s, b in signed_events(template, "lag", rate * seconds)]
    say(f"  steady {rate}/s for {seconds} s (paced asyncio sender) ...")
    sent = asyncio.run(paced_posts(base_url, "/api/stripe/webhook", events, rate))
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while True:
        with sqlite3.connect(path) as connection:
            rows = connection.execute(LAG_SQL).fetchall()
        done = sum(row[1] for row in rows)
        if done == len(rows) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    lags = [row[2] for row in rows]
    figures = Figures(
        f"in-process worker lag at {rate}/s",
        done / sent.elapsed,
        percentile(lags, 0.5),
        percentile(lags, 0.99),
        len(rows) - done + sent.errors,
    )
    return figures, f"{done:,} of {len(rows):,} events processed; {sent.errors} not acknowledged"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--lag-rate", type=int, default=200)
    parser.add_argument("--lag-seconds", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with TemporaryDirectory() as tmp:
        work = Path(tmp)
        raw = raw_sqlite(work / "raw.db", args.users, args.seconds)
        token_file = work / "tokens"
        token_file.write_text("\n".join(tokens(args.users)) + "\n")
        env = {"BENCH_TOKENS": str(token_file), "BENCH_USERS": str(args.users)}
        bare = bare_endpoint(work / "raw.db", args.seconds, env)
        path = work / "billing.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        say(f"seeding {args.users:,} wallets with three grants each ...")
        asyncio.run(seed(url, args.users))
        bodies = write_bodies(work, event_template(), "ack", pool_size(ACK_PACE, args.seconds))
        with serve(url, work / "serve.log") as (base_url, pid, ready):
            say(f"billing serve ready {ready:.2f} s after its start; warming up ...")
            wrk("warm-up", base_url, WRK_SCRIPT, 3, 32, env)
            spends = [
                wrk(f"spends, JWTs, {c} connections", base_url, WRK_SCRIPT, args.seconds, c, env)
                for c in (1, 32)
            ]
            result = post_events("webhooks", f"{base_url}", bodies, args.seconds, 32)
            acks = acknowledged("webhooks acknowledged, 32 connections", result)
            drained = drain(path, DRAIN_TIMEOUT * 3)
            lag, lag_note = worker_lag(path, base_url, args.lag_rate, args.lag_seconds)
            rss_mb = rss_bytes(pid) / 2**20
        verified = (
            subprocess.run(
                [sys.executable, "-m", "billing", "verify-ledger"],
                env={**os.environ, "DATABASE_URL": url, "BILLING_ENV": "development"},
                capture_output=True,
                text=True,
                check=False,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
    figures = [raw, bare, *spends, acks, drained, lag]
    print(table(figures))
    print(f"\n/readyz 200 after {ready:.2f} s; resident memory after the load {rss_mb:.0f} MB")
    print(f"spends at 32 connections / raw SQLite: {spends[1].rate / raw.rate:.2f}x")
    print(f"the bare endpoint / raw SQLite: {bare.rate / raw.rate:.2f}x")
    print(f"spends at 32 connections / the bare endpoint: {spends[1].rate / bare.rate:.2f}x")
    print(f"{lag_note}\nledger after the run: {verified}")
    if args.json:
        keys = ["raw", "bare", "spend_1", "spend_32", "acks", "drain", "lag"]
        write_json(
            args.json,
            dict(zip(keys, figures, strict=True)),
            ready_seconds=ready,
            rss_mb=rss_mb,
            ledger=verified,
        )


if __name__ == "__main__":
    main()
