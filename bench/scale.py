"""Scale-out under random kills: N `billing serve` processes behind one port (SO_REUSEPORT)
and M `billing worker` processes on one PostgreSQL, under mixed load (spends, holds
captured, usage batches of 20, signed Stripe top-ups, deliveries to a platform
endpoint), while a random server and a random worker are SIGKILLed every few seconds and
replaced. Then the backlog drains and everything is checked (tests/faults/scale.py):
balances exactly as the acknowledged operations foretell, every acknowledged Stripe
event processed, every outbox message delivered, verify-ledger, no 500 seen.

Prints throughput and latency by operation (a client's view: retries after a lost
connection or a 409 `idempotency_in_progress` count in the latency), the kill log and
the checks; exits 1 if a check failed. A short form runs in the tests
(tests/faults/test_scale_kills.py).

    python bench/scale.py [--servers 4] [--workers 4] [--seconds 60] [--kill-every 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
from pathlib import Path

from common import async_url, percentile, say, scratch_database

from billing.migrations import upgrade
from tests.faults.mixed_load import KINDS
from tests.faults.scale import Outcome, Plan, run


def report(outcome: Outcome) -> str:
    tally, seconds = outcome.tally, outcome.load_seconds
    lines = [
        f"{outcome.plan.servers} servers, {outcome.plan.workers} workers, {seconds:.0f} s of"
        f" load on {outcome.plan.lanes} lanes, seed {outcome.plan.seed}",
        "| operation | done | per second | p50 ms | p99 ms | retries |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind in KINDS:
        latencies = sorted(tally.latencies[kind]) or [0.0]
        lines.append(
            f"| {kind} | {tally.done[kind]:,} | {tally.done[kind] / seconds:,.0f} |"
            f" {percentile(latencies, 0.5) * 1000:.1f} | {percentile(latencies, 0.99) * 1000:.1f}"
            f" | {tally.retries[kind]:,} |"
        )
    kills = ", ".join(f"{k.at:.1f}s {k.role} {k.pid}" for k in outcome.kills)
    lines += [
        f"kills ({len(outcome.kills)}): {kills}",
        f"answers: {dict(sorted(tally.answers.items()))}",
        f"drained in {outcome.drain_seconds:.1f} s; {outcome.delivered:,} messages delivered;"
        f" {len(tally.events):,} Stripe events acknowledged",
        f"exit codes on SIGTERM: {outcome.exit_codes}",
        "checks: " + ("all hold" if outcome.ok else "FAILED: " + "; ".join(outcome.failures)),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=4, choices=range(1, 5))
    parser.add_argument("--workers", type=int, default=4, choices=range(1, 5))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--kill-every", type=float, default=3)
    parser.add_argument("--lanes", type=int, default=32)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seed", type=int, default=random.randrange(2**32))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    plan = Plan(
        args.servers, args.workers, args.seconds, args.kill_every, args.lanes, args.users, args.seed
    )
    with scratch_database("billing_bench_scale") as database, tempfile.TemporaryDirectory() as tmp:
        url = async_url(database)
        upgrade(url)
        say(f"running {plan} ...")
        outcome = asyncio.run(run(plan, url, Path(tmp)))
    print(report(outcome))
    if args.json:
        figures = {
            kind: {
                "done": outcome.tally.done[kind],
                "rate": outcome.tally.done[kind] / outcome.load_seconds,
            }
            for kind in KINDS
        }
        args.json.write_text(
            json.dumps({"figures": figures, "kills": len(outcome.kills), "ok": outcome.ok})
        )
    sys.exit(0 if outcome.ok else 1)


if __name__ == "__main__":
    main()
