"""Shared plumbing for the benchmarks: a scratch PostgreSQL database, a running service,
wrk and pgbench runs, and their figures."""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from billing.auth.principals import Role
from billing.auth.tokens import issue_token
from billing.core.config import Settings
from billing.http.app import server_options
from tests.support.server import free_port, running_server

PG_ADMIN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
WRK_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
WRK_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
WRK_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
PGBENCH_TPS = re.compile(r"tps = ([\d.]+)")
CONTENT_LENGTH = re.compile(rb"content-length: (\d+)", re.I)
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
WARM_UP_SECONDS = 3
WRK_TIMEOUT_SECONDS = 30
# Users 1..N funded by an admin grant each, as the service would have recorded it; the bare
# tables are what pgbench and bench/baseline_app.py spend from.
# Each wallet holds three grants, as issue 16 measures: a promotion (priority 10) expiring
# in 30 days, a grant expiring in a year and one that never expires (priority 50).
FUNDED_WALLETS_SQL = """
INSERT INTO credit_accounts (kind, user_id, balance, created_at, updated_at)
    SELECT 'wallet', u, {balance}, now(), now() FROM generate_series(1, {users}) AS u;
INSERT INTO credit_transactions
    (kind, user_id, amount, idempotency_key, fingerprint, actor, expires_at, created_at)
    SELECT 'admin_grant', u, CASE g WHEN 3 THEN {balance} - 2 * {part} ELSE {part} END,
           'seed:' || u || ':' || g, 'admin_grant:' || u, 'bench',
           CASE g WHEN 1 THEN now() + interval '30 days' WHEN 2 THEN now() + interval '1 year'
           END, now()
    FROM generate_series(1, {users}) AS u, generate_series(1, 3) AS g;
INSERT INTO credit_entries (transaction_id, account_id, amount, balance_after)
    SELECT t.id, a.id, t.amount,
           SUM(t.amount) OVER (PARTITION BY a.id ORDER BY t.id)
    FROM credit_transactions t JOIN credit_accounts a ON a.user_id = t.user_id;
INSERT INTO credit_entries (transaction_id, account_id, amount, balance_after)
    SELECT t.id, 3, -t.amount, NULL FROM credit_transactions t;
INSERT INTO credit_grants (account_id, user_id, source, amount, remaining, priority, status,
                           transaction_id, effective_at, expires_at, created_at, updated_at)
    SELECT a.id, t.user_id, CASE WHEN t.idempotency_key LIKE '%:1' THEN 'promotion' ELSE 'admin'
           END, t.amount, t.amount, CASE WHEN t.idempotency_key LIKE '%:1' THEN 10 ELSE 50 END,
           'active', t.id, t.created_at, t.expires_at, t.created_at, t.created_at
    FROM credit_transactions t JOIN credit_accounts a ON a.user_id = t.user_id;
INSERT INTO credit_grant_entries (transaction_id, grant_id, amount)
    SELECT transaction_id, id, amount FROM credit_grants;
VACUUM ANALYZE;
"""


@dataclass
class Figures:
    name: str
    rate: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0

    def row(self) -> str:
        p50 = f"{self.p50_ms:.1f}" if self.p50_ms is not None else "-"
        p99 = f"{self.p99_ms:.1f}" if self.p99_ms is not None else "-"
        return f"| {self.name} | {self.rate:,.0f} | {p50} | {p99} | {self.errors} |"


# The baseline every spend figure is compared with: pgbench running the equivalent raw SQL
# (UPDATE a wallet, INSERT an entry) on tables of its own, at the same concurrency.
BARE_TABLES_SQL = """
CREATE TABLE bench_wallets (
    user_id bigint PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
CREATE TABLE bench_entries (
    id bigserial PRIMARY KEY, user_id bigint NOT NULL, amount bigint NOT NULL,
    balance_after bigint NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO bench_wallets SELECT u, {balance} FROM generate_series(1, {users}) AS u;
VACUUM ANALYZE;
"""
PGBENCH_SCRIPT = """
\\set uid random(1, :users)
\\if :hot > 0
\\set uid :hot
\\endif
BEGIN;
UPDATE bench_wallets SET balance = balance - 1 WHERE user_id = :uid AND balance >= 1;
INSERT INTO bench_entries (user_id, amount, balance_after, created_at)
    VALUES (:uid, -1, 0, now());
COMMIT;
"""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def timed(what: str) -> Iterator[None]:
    """Say what starts, then how long it took: a run's slow steps show."""
    say(f"{what} ...")
    started = time.monotonic()
    yield
    say(f"  {what}: {time.monotonic() - started:.1f} s")


def psql(database: str, sql: str) -> str:
    result = subprocess.run(
        ["psql", f"{PG_ADMIN}/{database}", "-qtAX", "-v", "ON_ERROR_STOP=1", "-f", "-"],
        input=sql,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """A new PostgreSQL database for one benchmark run, dropped afterwards."""
    psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql("postgres", f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def async_url(database: str) -> str:
    return PG_ADMIN.replace("postgresql://", "postgresql+asyncpg://") + f"/{database}"


def billing_cli(database: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`billing ARGS` on the scratch database, its output captured."""
    return billing_at(async_url(database), *args, check=check)


def billing_at(url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`billing ARGS` on the database at `url`, its output captured."""
    env = {**os.environ, "DATABASE_URL": url, "BILLING_ENV": "development"}
    command = [sys.executable, "-m", "billing", *args]
    return subprocess.run(command, env=env, check=check, capture_output=True, text=True)


@contextmanager
def scratch_url(name: str, sqlite: bool = False) -> Iterator[str]:
    """The URL of a new database for one run, gone afterwards: PostgreSQL's `name`, or
    a SQLite file."""
    if sqlite:
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite+aiosqlite:///{directory}/billing.db"
        return
    with scratch_database(name) as database:
        yield async_url(database)


def fund_wallets(database: str, users: int, balance: int) -> None:
    """Wallets for users 1..`users`, each granted `balance` credits (at least 3) in three
    grants, ledger-consistent."""
    psql(database, FUNDED_WALLETS_SQL.format(users=users, balance=balance, part=balance // 3))


def tokens(users: int, role: Role = "user") -> list[str]:
    """Bearer tokens for users 1..`users` (index 0 is user 1), valid for a day."""
    settings = Settings(_env_file=None, BILLING_ENV="development")
    return [issue_token(settings, u, role, timedelta(days=1)) for u in range(1, users + 1)]


@contextmanager
def service(
    database: str, workers: int = 2, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    env = {"DATABASE_URL": async_url(database), "BILLING_ENV": "development", **(extra_env or {})}
    with running_server(env, workers=workers, timeout=60) as base_url:
        yield base_url


def uvicorn_flags() -> list[str]:
    """The uvicorn command-line flags for the options `billing serve` runs with, so a
    baseline app is served exactly as the service is."""
    options = server_options(Settings(_env_file=None, BILLING_ENV="development"))
    flags = ["--loop", options["loop"], "--http", options["http"]]
    flags += ["--log-level", options["log_level"]]
    return flags + ([] if options["access_log"] else ["--no-access-log"])


@contextmanager
def baseline(
    database: str | None,
    workers: int = 2,
    app: str = "baseline_app:app",
    probe: str = "/docs",
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """bench/baseline_app.py under uvicorn with the service's settings; its spend route
    needs `database`, its hello-world route and its bare receiver nothing."""
    port = free_port()
    env = {**os.environ, **(extra_env or {})}
    if database is not None:
        env["BASELINE_DSN"] = f"{PG_ADMIN}/{database}"
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [*command, "--workers", str(workers), *uvicorn_flags()],
            cwd=Path(__file__).parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}{probe}")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def hello_world(seconds: int, connections: int, workers: int = 2) -> Figures:
    """The ceiling of the HTTP stack alone: a hello-world route on the service's server
    settings and worker count, under wrk at the benchmarks' connection count."""
    with baseline(None, workers) as base_url:
        say(f"hello world (FastAPI, {workers} uvicorn workers) up; warming up ...")
        url = f"{base_url}/hello"
        wrk("warm-up", url, "", WARM_UP_SECONDS, connections, {})
        name = f"hello world, {connections} connections"
        return wrk(name, url, "", seconds, connections, {})


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer")


def wrk(
    name: str, url: str, script: str, seconds: int, connections: int, env: dict[str, str]
) -> Figures:
    say(f"  {name}: wrk, {connections} connections, {seconds} s ...")
    output = run_wrk(url, script, seconds, connections, env)
    latencies = {p: float(v) * UNIT_MS[u] for p, v, u in WRK_LATENCY.findall(output)}
    rate = WRK_RATE.search(output)
    errors = WRK_NON_2XX.search(output)
    return Figures(
        name,
        float(rate.group(1)) if rate else 0.0,
        latencies.get("50"),
        latencies.get("99"),
        int(errors.group(1)) if errors else 0,
    )


def run_wrk(
    url: str, script: str, seconds: int, connections: int, env: dict[str, str], threads: int = 2
) -> str:
    """wrk's standard output for one run of a Lua script."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    threads = min(threads, connections)  # wrk refuses more threads than connections
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    # wrk gives up on a request after 2 s by default, and the server goes on with it:
    # a slow batch would then count as lost and its work as wasted.
    command += ["--timeout", f"{WRK_TIMEOUT_SECONDS}s"]
    try:
        result = subprocess.run(
            [*command, "-s", lua.name, url],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(lua.name)
    return result.stdout


def children_cpu_seconds() -> float:
    """User + system CPU of the finished child processes so far (wrk, pgbench, ...)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Paced:
    elapsed: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0


async def paced_posts(
    base_url: str, path: str, events: list[tuple[str, bytes]], rate: int, connections: int = 32
) -> Paced:
    """POST (Stripe-Signature, body) pairs at a steady rate over keep-alive connections.

    Open loop: each request's latency counts from when it was due, so a slow server
    cannot slow the sender down and hide its own queueing (no coordinated omission).
    """
    host, port = base_url.removeprefix("http://").split(":")
    queue: asyncio.Queue[tuple[float, str, bytes] | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    result = Paced(elapsed=0.0)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while (item := await queue.get()) is not None:
            due, signature, body = item
            headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
            status, _ = await exchange(reader, writer, request("POST", path, headers, body))
            result.latencies_ms.append((loop.time() - due) * 1000)
            result.errors += status != 200
        writer.close()

    tasks = [asyncio.create_task(connection()) for _ in range(connections)]
    start = loop.time()
    for n, (signature, body) in enumerate(events):
        due = start + n / rate
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        queue.put_nowait((due, signature, body))
    for _ in tasks:
        queue.put_nowait(None)
    await asyncio.gather(*tasks)
    result.elapsed = loop.time() - start
    return result


def request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """One raw HTTP/1.1 request (keep-alive)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bytes]:
    """Send one request on a keep-alive connection; (status, body) of its response.
    Raw asyncio streams: a client library would cost more CPU than the server it measures
    on a small machine. The service always answers with a Content-Length."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    length = CONTENT_LENGTH.search(head)
    body = await reader.readexactly(int(length.group(1)) if length else 0)
    return int(head[9:12]), body


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def pgbench(
    name: str, database: str, script: str, seconds: int, clients: int, variables: dict[str, str]
) -> Figures:
    """Run a custom pgbench script; latencies come from its per-transaction log."""
    say(f"  {name}: pgbench, {clients} clients, {seconds} s ...")
    with tempfile.TemporaryDirectory() as workdir:
        script_path = Path(workdir) / "script.sql"
        script_path.write_text(script)
        defines = [arg for key, value in variables.items() for arg in ("-D", f"{key}={value}")]
        command = ["pgbench", "-n", "-M", "prepared", f"-c{clients}", "-j2", f"-T{seconds}"]
        command += ["-l", f"--log-prefix={workdir}/log", "-f", str(script_path), *defines]
        result = subprocess.run(
            [*command, f"{PG_ADMIN}/{database}"], check=True, capture_output=True, text=True
        )
        latencies = sorted(
            int(line.split()[2]) / 1000
            for log in Path(workdir).glob("log*")
            for line in log.read_text().splitlines()
        )
    tps = PGBENCH_TPS.search(result.stdout)
    return Figures(
        name,
        float(tps.group(1)) if tps else 0.0,
        percentile(latencies, 0.50) if latencies else None,
        percentile(latencies, 0.99) if latencies else None,
    )


def table(figures: list[Figures]) -> str:
    head = "| run | per second | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|"
    return "\n".join([head, *(f.row() for f in figures)])


def write_json(path: Path, figures: dict[str, Figures], **extra: Any) -> None:
    """A benchmark's figures by key (what bench/report.py reads), and anything else."""
    named = {key: figure.__dict__ for key, figure in figures.items()}
    path.write_text(json.dumps({"figures": named, **extra}, indent=2))
