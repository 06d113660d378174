"""What telling the platform of low balances costs the spend path.

The same spends (wrk, 64 connections, users' own JWTs, 1 credit each, random users)
in four kinds of run, each twice (in an order, then in reverse) and each on its own
`--users` wallets funded just above a low-balance threshold of 100, so that most of them
cross it during the run (a worst case: about one spend in six writes `credits.low`). A
`billing worker` runs throughout, as in production.
- watch off: the wallet trigger disabled, the spend path as it was before balance alerts;
- no thresholds: the trigger decides on every spend, and there is nothing to tell;
- alerts, nobody subscribed: `credits.low` written to the outbox, fanned out to nobody;
- alerts, an endpoint subscribed to `credits.low`: delivered by the worker to a local
  receiver (bench/baseline_app.py's bare one) while the spends go on.
The issue's target: an endpoint subscribed costs at most 10% of the spends of a run
without alerts (no thresholds). Prints every run, the ratios and the messages written.

    python bench/alerts.py [--seconds 10] [--users 4000]
"""

from __future__ import annotations

import argparse
import asyncio
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory

from common import (
    Figures,
    async_url,
    baseline,
    billing_cli,
    fund_wallets,
    psql,
    say,
    scratch_database,
    service,
    table,
    tokens,
    write_json,
    wrk,
)
from outbound import endpoint, worker_setup, workers
from spend import WRK_SCRIPT

from billing.migrations import upgrade

THRESHOLD = 100
SEED = THRESHOLD + 2  # the third spend of a wallet crosses
CONNECTIONS = 64
RUNS = ("watch_off", "no_thresholds", "alerts_unsubscribed", "alerts_subscribed")
NAMES = {
    "watch_off": "spends, wallet trigger off",
    "no_thresholds": "spends, no thresholds",
    "alerts_unsubscribed": "spends, credits.low told, nobody subscribed",
    "alerts_subscribed": "spends, credits.low told and delivered",
}
TRIGGER = "ALTER TABLE credit_accounts {} TRIGGER credit_wallet_watch"
THRESHOLDS = (
    "UPDATE credit_accounts SET low_balance_threshold = {threshold}"
    " WHERE kind = 'wallet' AND user_id > {first} AND user_id <= {last}"
)
LOW_TOLD = "SELECT count(*) FROM webhook_messages WHERE type = 'credits.low'"
DELIVERED = "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'"
# As deleting the endpoint does: what it still had to be sent ends failed.
UNSUBSCRIBE = (
    "UPDATE webhook_endpoints SET deleted_at = now();"
    " UPDATE webhook_deliveries SET status = 'failed' WHERE status = 'pending'"
)
# Each run twice, in an order and then its reverse, each on wallets of its own: a drift
# over the whole run (tables growing, the machine warming) weighs on every kind alike.
ORDER = (*RUNS, *reversed(RUNS))


def averaged(name: str, measured: list[Figures]) -> Figures:
    """The two runs of a kind as one: mean rate and p50, the worse p99, all errors."""
    first, second = measured
    return Figures(
        name,
        (first.rate + second.rate) / 2,
        ((first.p50_ms or 0) + (second.p50_ms or 0)) / 2,
        max(first.p99_ms or 0, second.p99_ms or 0),
        first.errors + second.errors,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=4_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    runs: dict[str, list[Figures]] = {run: [] for run in RUNS}
    told, delivered = dict.fromkeys(RUNS, 0), 0
    with (
        scratch_database("billing_bench_alerts") as database,
        TemporaryDirectory() as data_dir,
        baseline(None, app="baseline_app:receiver", probe="/") as receiver,
        ExitStack() as running,
    ):
        wallets = len(ORDER) * args.users
        say(f"seeding {wallets:,} wallets of {SEED} credits ...")
        upgrade(async_url(database))
        fund_wallets(database, wallets, SEED)
        for group, run in enumerate(ORDER):
            if run.startswith("alerts"):
                first = group * args.users
                last = first + args.users
                psql(database, THRESHOLDS.format(threshold=THRESHOLD, first=first, last=last))
        env, settings = worker_setup(database, data_dir)
        token_file = Path(data_dir) / "tokens"
        token_file.write_text("\n".join(tokens(wallets)) + "\n")
        workers(env, 1, running)
        with service(database) as base_url:
            base = {"BENCH_TOKENS": str(token_file), "BENCH_USERS": str(args.users)}
            say(f"service up at {base_url}; warming up on the first run's wallets ...")
            wrk("warm-up", base_url, WRK_SCRIPT, 3, CONNECTIONS, {**base, "BENCH_OFFSET": "0"})
            for group, run in enumerate(ORDER):
                if run == "watch_off":
                    psql(database, TRIGGER.format("DISABLE"))
                if run == "alerts_subscribed" and not runs[run]:
                    asyncio.run(endpoint(settings, f"{receiver}/hooks", ("credits.low",)))
                before = int(psql(database, LOW_TOLD))
                env_run = {**base, "BENCH_OFFSET": str(group * args.users)}
                runs[run].append(
                    wrk(NAMES[run], base_url, WRK_SCRIPT, args.seconds, CONNECTIONS, env_run)
                )
                told[run] += int(psql(database, LOW_TOLD)) - before
                if run == "watch_off":
                    psql(database, TRIGGER.format("ENABLE"))
                if run == "alerts_subscribed" and len(runs[run]) == 2:
                    delivered = int(psql(database, DELIVERED))
                    psql(database, UNSUBSCRIBE)
        verified = billing_cli(database, "verify-ledger").stdout.strip().splitlines()[-1]

    figures = {run: averaged(NAMES[run], measured) for run, measured in runs.items()}
    ratios = {
        "subscribed_vs_no_thresholds": figures["alerts_subscribed"].rate
        / figures["no_thresholds"].rate,
        "unsubscribed_vs_no_thresholds": figures["alerts_unsubscribed"].rate
        / figures["no_thresholds"].rate,
        "no_thresholds_vs_watch_off": figures["no_thresholds"].rate / figures["watch_off"].rate,
    }
    print("\n" + table(list(figures.values())))
    for run in RUNS:
        print(f"{NAMES[run]}: credits.low written {told[run]:,}")
    print(f"delivered to the receiver by the end of the subscribed runs: {delivered:,}")
    subscribed = ratios["subscribed_vs_no_thresholds"]
    print(f"endpoint subscribed / no thresholds: {subscribed:.2f}x (target >= 0.90)")
    print(f"nobody subscribed / no thresholds: {ratios['unsubscribed_vs_no_thresholds']:.2f}x")
    print(f"trigger on, no thresholds / trigger off: {ratios['no_thresholds_vs_watch_off']:.2f}x")
    print(f"ledger after the run: {verified}")
    if args.json:
        write_json(
            args.json, figures, ratios=ratios, told=told, delivered=delivered, ledger=verified
        )


if __name__ == "__main__":
    main()
