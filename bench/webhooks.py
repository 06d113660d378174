"""Webhook receiving throughput and processing lag of the full service on PostgreSQL.

Starts `billing serve` on PostgreSQL with 2 workers (no in-process inbox worker)
and posts signed `payment_intent.succeeded` events (~2.3 KB, shaped and indented
like Stripe's) from 64 wrk connections: every event has its own id and a fresh,
valid Stripe-Signature (signed right before the run; each wrk thread reads its own
file). Reports acknowledged events/s and p50/p99 acknowledgement latency, then
checks that the inbox holds every event acknowledged as new and nothing beyond
the requests still in flight when wrk stopped. Baselines in the same run: the
same server's `/healthz` under the same wrk load, and pgbench running the inbox
INSERT at the same concurrency. Then starts `billing worker` processes, posts at
a steady rate (a paced asyncio sender; latency counts from each event's
scheduled time) and computes the processing lag (processed_at - received_at)
from the database.

    python bench/webhooks.py [--seconds 15] [--connections 64] [--lag-rate 500]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

import orjson
from common import (
    Figures,
    async_url,
    children_cpu_seconds,
    paced_posts,
    percentile,
    pgbench,
    psql,
    run_wrk,
    say,
    scratch_database,
    service,
    table,
    write_json,
    wrk,
)

from billing.migrations import upgrade
from tests.support.stripe_reference import FIXTURES

SECRET = "whsec_bench_webhooks"  # noqa: S105 (a benchmark's own throwaway secret)
SERVICE_ENV = {
    "BILLING_ENV": "development",
    "STRIPE_WEBHOOK_SECRET": SECRET,
    "BILLING_RUN_WORKER": "false",
    # Every event comes from one address here; the per-address limit would refuse the load.
    "BILLING_WEBHOOK_RATE_LIMIT": "1000000/second",
}
WRK_THREADS = 2
WARM_UP_SECONDS = 3
WARM_UP_EVENTS = 15_000  # per wrk thread: more than the warm-up can send
ID_DIGITS = 24  # Stripe's event ids are `evt_` and 24 characters
USERS = 1000
DRAIN_TIMEOUT = 60.0
WORKER_START_TIMEOUT = 60.0  # the wait for workers to empty the inbox after the steady phase
NEWLINE, LINE_BREAK = "\n", "\x01"  # bodies are indented JSON: one per line, \n as \x01
# Each thread cycles through its own file of `signature<TAB>body` lines. `new`, `dup` and
# `sent` are globals so done() can read them from every thread.
WRK_SCRIPT = """
local threads, counter = {}, 0
function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
signatures, bodies, count, sent, new, dup = {}, {}, 0, 0, 0, 0
function init(args)
  for line in io.lines(os.getenv("BENCH_BODIES") .. "." .. index) do
    local tab = line:find("\\t", 1, true)
    count = count + 1
    signatures[count] = line:sub(1, tab - 1)
    bodies[count] = (line:sub(tab + 1):gsub("\\1", "\\n"))
  end
  wrk.method = "POST"
  wrk.path = "/api/stripe/webhook"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  local k = sent % count + 1
  sent = sent + 1
  wrk.headers["Stripe-Signature"] = signatures[k]
  return wrk.format(nil, nil, nil, bodies[k])
end
function response(status, headers, body)
  if status == 200 then
    if body:find('"duplicate":false', 1, true) then new = new + 1 else dup = dup + 1 end
  end
end
function done(summary, latency, requests)
  local totals = {new = 0, dup = 0, sent = 0, wrapped = 0}
  for _, thread in ipairs(threads) do
    totals.new = totals.new + thread:get("new")
    totals.dup = totals.dup + thread:get("dup")
    totals.sent = totals.sent + thread:get("sent")
    if thread:get("sent") > thread:get("count") then totals.wrapped = 1 end
  end
  local errors = summary.errors
  io.write(string.format(
    "BENCH new=%d dup=%d sent=%d wrapped=%d duration_us=%d responses=%d non2xx=%d"
      .. " socket_errors=%d p50_us=%d p99_us=%d\\n",
    totals.new, totals.dup, totals.sent, totals.wrapped, summary.duration, summary.requests,
    errors.status, errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""
# The route's own statement, so pgbench measures PostgreSQL's ceiling for it.
PGBENCH_SCRIPT = """
INSERT INTO webhook_events (stripe_event_id, type, api_version, livemode, created, payload,
    status, attempts, next_attempt_at, received_at)
VALUES ('evt_pgbench' || nextval('bench_pgbench_ids'), 'payment_intent.succeeded',
    '2024-06-20', false, now(), :payload::jsonb, 'pending', 0, now(), now())
ON CONFLICT (stripe_event_id) DO NOTHING RETURNING id;
"""
# An event still unprocessed counts with its lag so far: the figures are then lower bounds.
LAG_SQL = """
SELECT count(*), count(processed_at), coalesce(string_agg(DISTINCT status, ','), ''),
    coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), 0),
    coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY lag), 0),
    coalesce(max(lag), 0),
    coalesce(count(processed_at)
        / nullif(extract(epoch FROM max(processed_at) - min(processed_at)), 0), 0)
FROM (SELECT status, processed_at,
        extract(epoch FROM coalesce(processed_at, now()) - received_at) * 1000 AS lag
      FROM webhook_events WHERE stripe_event_id LIKE 'evt_lag%') AS events
"""


def event_template() -> str:
    """A `payment_intent.succeeded` event as Stripe sends it for a payment-form top-up,
    with placeholders for the ids and the user."""
    resources = json.loads(FIXTURES.read_text())["resources"]
    created = int(time.time())
    intent = {
        **resources["payment_intent"],
        "id": "@INTENT@",
        "amount": 2500,
        "amount_received": 2500,
        "status": "succeeded",
        "created": created,
        "canceled_at": None,
        "customer": "cus_QXg1BenchCustomer0001",
        "description": "Credit top-up",
        "client_secret": "@INTENT@_secret_Dm43xiq1k0ywrRRjDoi8y1gkM",
        "latest_charge": "ch_3PgafyB7WZ01zgkW1Jq2xY9b",
        "payment_method": "pm_1PgafxB7WZ01zgkWb2a3c4d5",
        "last_payment_error": None,
        "next_action": None,
        "processing": None,
        "transfer_data": None,
        "metadata": {
            "billing_user_id": "@USER@",
            "billing_purpose": "topup",
            "billing_credits": "2500",
        },
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            },
            "link": {"persistent_token": None},
        },
        "payment_method_types": ["card", "link"],
    }
    event = {
        "id": "@EVENT@",
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "data": {"object": intent},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_@USER@Qx3v5aFgH1", "idempotency_key": "billing-@INTENT@"},
        "type": "payment_intent.succeeded",
    }
    return orjson.dumps(event, option=orjson.OPT_INDENT_2).decode()  # as Stripe sends it


def signed_events(template: str, tag: str, count: int) -> Iterator[tuple[str, str]]:
    """(Stripe-Signature, body) for `count` events with ids unique to `tag`, signed now."""
    timestamp = int(time.time())
    key, prefix = SECRET.encode(), f"{timestamp}.".encode()
    for n in range(count):
        suffix = f"{tag}{n:0{ID_DIGITS - len(tag)}d}"
        body = (
            template.replace("@EVENT@", f"evt_{suffix}")
            .replace("@INTENT@", f"pi_{suffix}")
            .replace("@USER@", str(n % USERS + 1))
        )
        digest = hmac.new(key, prefix + body.encode(), hashlib.sha256).hexdigest()
        yield f"t={timestamp},v1={digest}", body


def write_bodies(directory: Path, template: str, tag: str, per_thread: int) -> Path:
    """One file per wrk thread, so no two threads ever send the same event."""
    base = directory / tag
    for thread in range(WRK_THREADS):
        events = signed_events(template, f"{tag}{thread}", per_thread)
        lines = (f"{s}\t{b.replace(NEWLINE, LINE_BREAK)}\n" for s, b in events)
        Path(f"{base}.{thread}").write_text("".join(lines))
    return base


def post_events(
    name: str, url: str, bodies: Path, seconds: int, connections: int
) -> dict[str, int]:
    say(f"  {name}: wrk, {connections} connections, {seconds} s ...")
    output = run_wrk(url, WRK_SCRIPT, seconds, connections, {"BENCH_BODIES": str(bodies)})
    line = next((line for line in output.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures (a Lua error?):\n{output}")
    return {key: int(value) for key, value in (item.split("=") for item in line.split()[1:])}


def acknowledged(name: str, result: dict[str, int]) -> Figures:
    seconds = result["duration_us"] / 1e6
    return Figures(
        name,
        (result["new"] + result["dup"]) / seconds,
        result["p50_us"] / 1000,
        result["p99_us"] / 1000,
        result["non2xx"] + result["socket_errors"],
    )


def store_once(database: str, result: dict[str, int], tag: str) -> str:
    """The inbox holds every event acknowledged as new, and nothing that was not sent.

    Requests still in flight when wrk stops may be stored without wrk counting their
    200, so the inbox may exceed the count of new acknowledgements by at most those."""
    query = f"SELECT count(*) FROM webhook_events WHERE stripe_event_id LIKE 'evt_{tag}%'"
    stored = int(psql(database, query))
    in_flight = result["sent"] - result["responses"]
    holds = result["new"] <= stored <= result["new"] + in_flight and result["dup"] == 0
    verdict = "ok" if holds and not result["wrapped"] else "BROKEN"
    return (
        f"{verdict}: {stored:,} events stored, {result['new']:,} acknowledged as new,"
        f" {result['dup']} as duplicates, {in_flight} in flight when wrk stopped"
        + (" (the pre-signed events ran out: raise the pool)" if result["wrapped"] else "")
    )


@contextmanager
def inbox_workers(database: str, count: int) -> Iterator[None]:
    """`count` worker processes, started and ready (each logged `worker_started`): the lag
    measured is the steady state's, not how long a process takes to start."""
    env = {**os.environ, "DATABASE_URL": async_url(database), **SERVICE_ENV}
    command = [sys.executable, "-m", "billing", "worker"]
    say(f"  starting {count} `billing worker` processes")
    with TemporaryDirectory() as directory:
        logs = [Path(directory) / f"worker{n}.log" for n in range(count)]
        processes = []
        for log in logs:
            with log.open("w") as output:
                processes.append(
                    subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
                )
        try:
            started = time.monotonic()
            deadline = started + WORKER_START_TIMEOUT
            while not all("worker_started" in log.read_text() for log in logs):
                if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                    raise RuntimeError(f"workers did not start: {logs[0].read_text()[-2000:]}")
                time.sleep(0.1)
            say(f"  workers ready after {time.monotonic() - started:.1f} s")
            yield
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=10)


def processing_lag(
    database: str, base_url: str, template: str, rate: int, seconds: int, workers: int
) -> tuple[Figures, Figures, str]:
    """Post at a steady rate with workers running; lag = processed_at - received_at.

    Starts from a checkpoint: the flood before it wrote a lot of WAL, and the
    checkpoint that volume requests landed in this phase in some runs, raising the lag
    p99 (docs/performance.md). The steady phase's own writes are measured, not the
    flood's."""
    count = rate * seconds
    events = [(s, b.encode()) for s, b in signed_events(template, "lag", count)]
    psql(database, "CHECKPOINT")
    with inbox_workers(database, workers):
        say(f"  steady {rate}/s for {seconds} s (paced asyncio sender) ...")
        cpu = time.process_time()
        sent = asyncio.run(paced_posts(base_url, "/api/stripe/webhook", events, rate))
        sender_cpu = (time.process_time() - cpu) / sent.elapsed
        deadline = time.monotonic() + DRAIN_TIMEOUT
        row = psql(database, LAG_SQL).split("|")
        while int(row[1]) < int(row[0]) and time.monotonic() < deadline:
            time.sleep(0.5)
            row = psql(database, LAG_SQL).split("|")
    total, processed, statuses = int(row[0]), int(row[1]), row[2]
    latencies = sorted(sent.latencies_ms)
    ack = Figures(
        f"webhook at a steady {rate}/s: acknowledgement",
        len(latencies) / sent.elapsed,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        sent.errors,
    )
    lag = Figures(
        f"processing lag at {rate}/s, {workers} workers (per second: their pace)",
        float(row[6]),
        float(row[3]),
        float(row[4]),
        total - processed,
    )
    bound = "" if processed == total else f" (lower bounds: {total - processed:,} still due)"
    note = (
        f"{processed:,} of {total:,} events processed (statuses: {statuses}),"
        f" max lag {float(row[5]) / 1000:.1f} s{bound}; the paced sender used"
        f" {sender_cpu:.0%} of a core"
    )
    return ack, lag, note


def pool_size(rate: float, seconds: int) -> int:
    """Events per wrk thread for a run: twice the warm-up's pace, so none repeats."""
    return math.ceil(2 * rate * seconds / WRK_THREADS) + 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--lag-rate", type=int, default=500)
    parser.add_argument("--lag-seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2, help="inbox worker processes")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    template = event_template()
    size = len(next(signed_events(template, "size", 1))[1].encode())
    say(f"events: payment_intent.succeeded, {size:,} bytes each")
    with scratch_database("bench_webhooks") as database, TemporaryDirectory() as tmp:
        upgrade(async_url(database))
        psql(database, "CREATE SEQUENCE bench_pgbench_ids")
        with service(database, extra_env=SERVICE_ENV) as base_url:
            say(f"service up at {base_url}; warming up ...")
            bodies = write_bodies(Path(tmp), template, "w", WARM_UP_EVENTS)
            warm = post_events("warm-up", base_url, bodies, WARM_UP_SECONDS, args.connections)
            per_thread = pool_size(warm["responses"] / WARM_UP_SECONDS, args.seconds)
            say(f"  signing {per_thread * WRK_THREADS:,} events ...")
            bodies = write_bodies(Path(tmp), template, "a", per_thread)
            cpu = children_cpu_seconds()
            result = post_events("signed events", base_url, bodies, args.seconds, args.connections)
            wrk_cpu = (children_cpu_seconds() - cpu) / (result["duration_us"] / 1e6)
            receive = acknowledged(f"webhook, {args.connections} connections", result)
            checked = store_once(database, result, "a")
            psql(database, "TRUNCATE webhook_events")
            healthz = wrk(
                "GET /healthz, same server and load",
                f"{base_url}/healthz",
                "",
                args.seconds,
                args.connections,
                {},
            )
            ack, lag, lag_note = processing_lag(
                database, base_url, template, args.lag_rate, args.lag_seconds, args.workers
            )
        # After the service has stopped: its pools and pgbench's clients would not both fit
        # in PostgreSQL's default max_connections.
        ceiling = pgbench(
            "pgbench: the inbox INSERT",
            database,
            PGBENCH_SCRIPT,
            args.seconds,
            args.connections,
            {"payload": template},
        )

    figures = [receive, healthz, ceiling, ack, lag]
    ratios = {
        "webhook_vs_healthz": receive.rate / healthz.rate,
        "webhook_vs_pgbench": receive.rate / ceiling.rate,
    }
    print(table(figures))
    print()
    print(
        f"acknowledged events/s: {receive.rate:,.0f} (target >= 1,500),"
        f" p99 {receive.p99_ms:.1f} ms (target <= 50)"
    )
    print(
        f"webhook/healthz on the same server: {ratios['webhook_vs_healthz']:.2f}x;"
        f" webhook/pgbench INSERT: {ratios['webhook_vs_pgbench']:.2f}x"
    )
    print(f"processing lag p99: {lag.p99_ms / 1000:.2f} s (target <= 2 s)")
    print(f"store-once: {checked}")
    print(f"lag phase: {lag_note}")
    print(f"wrk used {wrk_cpu:.0%} of a core while posting events")
    if args.json:
        keys = ["ack", "healthz", "pgbench_insert", "steady_ack", "lag"]
        named = dict(zip(keys, figures, strict=True))
        write_json(args.json, named, ratios=ratios, store_once=checked, lag_phase=lag_note)
    if not checked.startswith("ok"):
        sys.exit(1)


if __name__ == "__main__":
    main()
