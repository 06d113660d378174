"""Latency of the admin dashboard over a year of a mid-sized platform's data.

Seeds a scratch PostgreSQL database over two years ending now, with COPY: 100k users with
wallets, 1M ledger transactions with their 2M entries (each user's history generated in
order, so every wallet entry records its running balance and the wallets hold their sum),
20k subscriptions on monthly, quarterly, yearly and weekly plans with one invoice payment
per billing period (some failed, refunded or disputed), and one inbox event per payment.
Each wallet's balance is one grant carried over from before grants existed, as migration
0011 carries balances. The sums the payments' and subscriptions' triggers keep are summed
(the load bypassed the triggers) and the worker's `ledger_rollups` job summarizes the
settled days (timed), then `billing verify-ledger` proves the ledger's invariants and the
rollups. Then `billing
serve` answers GET /api/financial/admin/dashboard for the last 30 and the last 365 days:
the first call's latency (a new process compiles the dashboard's statements on it), then
p50/p95 over the 20 sequential calls after it, and the machine's load average: a shared
machine slows every figure.

    python bench/dashboard.py [--users 100000] [--transactions 1000000]
        [--subscriptions 20000] [--calls 20] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import typer
from common import PG_ADMIN, async_url, percentile, psql, say, scratch_database, service

from billing.auth.tokens import issue_token
from billing.core.config import Settings
from billing.credits.accounts import (
    ADMIN_GRANT,
    EXPIRY,
    PURCHASE,
    REFUND_CLAWBACK,
    SPEND,
    SUBSCRIPTION_GRANT,
    TransactionKind,
)
from billing.credits.grants import default_priority
from billing.credits.rollups.jobs import roll_up
from billing.db.engine import Database
from billing.migrations import upgrade
from billing.payments.day_totals import rebuild as rebuild_payment_totals
from billing.payments.plan_totals import rebuild as rebuild_plan_totals

NOW = datetime.now(UTC)
SPAN = timedelta(days=730)
CHUNK = 50_000
TARGET_P95_MS = {"30 days": 30.0, "365 days": 100.0}
RANGES = {"30 days": 30, "365 days": 365}
FIRST_WALLET_ID = 1000
# After a user's first purchase: (kind, weight); debits never exceed the balance.
LATER_KINDS = [
    (SPEND, 62),
    (PURCHASE, 15),
    (SUBSCRIPTION_GRANT, 10),
    (ADMIN_GRANT, 5),
    (EXPIRY, 5),
    (REFUND_CLAWBACK, 3),
]
EVENT_STATUSES = [("processed", 980), ("ignored", 10), ("failed", 5), ("dead", 3), ("pending", 2)]
# (currency, unit_amount, interval, interval_count, days between invoices), weight
PLANS = [
    (("usd", 1000, "month", 1, 30.44), 35),
    (("usd", 2900, "month", 1, 30.44), 20),
    (("usd", 9900, "month", 1, 30.44), 10),
    (("usd", 99000, "year", 1, 365.0), 10),
    (("eur", 900, "month", 1, 30.44), 10),
    (("eur", 24000, "month", 3, 91.31), 5),
    (("gbp", 500, "week", 1, 7.0), 5),
    (("gbp", 800, "month", 1, 30.44), 5),
]
STATUSES = [("active", 80), ("canceled", 12), ("past_due", 3), ("trialing", 3)]
TRANSACTION_COLUMNS = [
    "id",
    "kind",
    "user_id",
    "amount",
    "idempotency_key",
    "fingerprint",
    "actor",
    "created_at",
]
ENTRY_COLUMNS = ["id", "transaction_id", "account_id", "amount", "balance_after"]


class Weighted:
    """A random choice among weighted options, its cumulative weights computed once."""

    def __init__(self, options: Sequence[tuple[Any, int]]) -> None:
        self.options = [option for option, _ in options]
        self.cumulative = list(itertools.accumulate(weight for _, weight in options))

    def pick(self, rng: random.Random) -> Any:
        return rng.choices(self.options, cum_weights=self.cumulative)[0]


KIND_CHOICE, PLAN_CHOICE = Weighted(LATER_KINDS), Weighted(PLANS)
STATUS_CHOICE, EVENT_CHOICE = Weighted(STATUSES), Weighted(EVENT_STATUSES)


def moment(rng: random.Random) -> datetime:
    return NOW - SPAN * rng.random()


def ledger_history(
    rng: random.Random, users: int, transactions: int
) -> tuple[list[tuple[datetime, int, TransactionKind, int]], list[int]]:
    """Each user's transactions in time order with valid amounts, all users' sorted by time;
    and each user's final balance (index = user id)."""
    per_user, extra = divmod(transactions, users)
    history: list[tuple[datetime, int, TransactionKind, int]] = []
    balances = [0] * (users + 1)
    for user in range(1, users + 1):
        times = sorted(moment(rng) for _ in range(per_user + (user <= extra)))
        for n, at in enumerate(times):
            kind = PURCHASE if n == 0 else KIND_CHOICE.pick(rng)
            if not kind.credits_wallet and balances[user] == 0:
                kind = PURCHASE
            if kind.credits_wallet:
                amount = rng.randrange(100, 5001, 100)
            else:
                amount = rng.randint(1, min(balances[user], 2000))
            balances[user] += amount if kind.credits_wallet else -amount
            history.append((at, user, kind, amount))
    history.sort(key=lambda row: row[0])
    return history, balances


def carried_grants(balances: list[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each wallet's balance as one paid grant opened before grants existed, as migration
    0011 carried balances over: its opening grant entry names no transaction."""
    grants, entries = [], []
    for user, balance in enumerate(balances):
        if balance <= 0:
            continue
        grants.append(
            {
                "id": user,
                "account_id": FIRST_WALLET_ID - 1 + user,
                "user_id": user,
                "source": PURCHASE.grant_source,
                "amount": balance,
                "remaining": balance,
                "priority": default_priority(PURCHASE.grant_source or ""),
                "status": "active",
                "effective_at": NOW - SPAN,
                "created_at": NOW - SPAN,
                "updated_at": NOW,
            }
        )
        entries.append({"id": user, "grant_id": user, "amount": balance})
    return grants, entries


def ledger_rows(
    history: list[tuple[datetime, int, TransactionKind, int]],
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Chunks of (transactions, their two entries each) with running wallet balances."""
    running: dict[int, int] = {}
    for offset in range(0, len(history), CHUNK):
        transactions, entries = [], []
        for n, (at, user, kind, amount) in enumerate(history[offset : offset + CHUNK]):
            tx_id = offset + n + 1
            delta = amount if kind.credits_wallet else -amount
            running[user] = running.get(user, 0) + delta
            fingerprint = f"{kind.name}:{user}:{amount}"
            transactions.append(
                (tx_id, kind.name, user, amount, f"bench:{tx_id}", fingerprint, "bench", at)
            )
            wallet = FIRST_WALLET_ID - 1 + user
            entries.append((2 * tx_id - 1, tx_id, wallet, delta, running[user]))
            entries.append((2 * tx_id, tx_id, kind.system_account_id, -delta, None))
        yield transactions, entries


@dataclass
class Billing:
    subscriptions: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    events: list[dict[str, Any]]


def billing_history(rng: random.Random, users: int, count: int) -> Billing:
    """Subscriptions, an invoice payment per billing period while each was live, and the
    inbox event that reported each payment."""
    result = Billing([], [], [])
    for n, user in enumerate(rng.sample(range(1, users + 1), count), start=1):
        currency, unit_amount, interval, interval_count, period = PLAN_CHOICE.pick(rng)
        status, created = STATUS_CHOICE.pick(rng), moment(rng)
        ended = created + (NOW - created) * rng.random() if status == "canceled" else None
        quantity = 1 if rng.random() < 0.9 else rng.randint(2, 5)
        subscription = f"sub_bench_{n}"
        result.subscriptions.append(
            {
                "stripe_subscription_id": subscription,
                "user_id": user,
                "stripe_customer_id": f"cus_bench_{user}",
                "status": status,
                "quantity": quantity,
                "currency": currency,
                "unit_amount": unit_amount,
                "interval": interval,
                "interval_count": interval_count,
                "cancel_at_period_end": False,
                "canceled_at": ended,
                "ended_at": ended,
                "created_at": created,
                "state_at": created,
                "updated_at": created,
            }
        )
        at = created
        while status != "trialing" and at < (ended or NOW):
            invoice = f"in_bench_{n}_{at.timestamp():.0f}"
            amount = unit_amount * quantity
            result.payments.append(payment(rng, invoice, user, amount, currency, subscription, at))
            result.events.append(event(rng, f"evt_{invoice}", at))
            at += timedelta(days=period)
    result.payments.sort(key=lambda row: row["created_at"])
    result.events.sort(key=lambda row: row["received_at"])
    return result


def payment(
    rng: random.Random,
    invoice: str,
    user: int,
    amount: int,
    currency: str,
    subscription: str,
    at: datetime,
) -> dict[str, Any]:
    """4% failed, 2% partly refunded, 0.5% disputed in full."""
    roll = rng.random()
    status = "failed" if roll < 0.04 else "succeeded"
    refunded = rng.randrange(100, 501, 100) if 0.04 <= roll < 0.06 else 0
    disputed = amount if 0.06 <= roll < 0.065 else 0
    return {
        "stripe_id": invoice,
        "kind": "invoice",
        "status": status,
        "user_id": user,
        "amount": amount,
        "currency": currency,
        "credits": 0,
        "amount_refunded": min(refunded, amount),
        "amount_disputed": disputed,
        "credits_clawed_back": 0,
        "credits_unrecovered": 0,
        "invoice_id": invoice,
        "subscription_id": subscription,
        "created_at": at,
        "updated_at": at,
    }


def event(rng: random.Random, event_id: str, at: datetime) -> dict[str, Any]:
    """Processed a quarter of a second later on average; a few ignored, failing or dead."""
    status = EVENT_CHOICE.pick(rng)
    lag = timedelta(seconds=rng.expovariate(4.0))
    processed = at + lag if status in ("processed", "ignored") else None
    return {
        "stripe_event_id": event_id,
        "type": "invoice.paid",
        "livemode": False,
        "created": at,
        "payload": json.dumps({"id": event_id, "object": "event"}),
        "status": status,
        "attempts": 0 if status == "pending" else 1,
        "next_attempt_at": at,
        "received_at": at,
        "processed_at": processed,
    }


async def copy(connection: asyncpg.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """COPY rows (dicts with the same keys) in chunks, with a progress bar."""
    columns = list(rows[0])
    with typer.progressbar(length=len(rows), label=f"  {table:<30}", file=sys.stderr) as bar:
        for offset in range(0, len(rows), CHUNK):
            chunk = [tuple(row.values()) for row in rows[offset : offset + CHUNK]]
            await connection.copy_records_to_table(table, records=chunk, columns=columns)
            bar.update(len(chunk))


@asynccontextmanager
async def bulk_load(connection: asyncpg.Connection) -> AsyncIterator[None]:
    """Load as a restore does: this session's foreign-key checks and triggers off, the
    secondary indexes dropped and built again afterwards (unique ones stay).
    `billing verify-ledger` then proves the ledger's invariants on what was loaded."""
    indexes = await connection.fetch(
        "SELECT indexname, indexdef FROM pg_indexes"
        " WHERE schemaname = 'public' AND indexname LIKE 'ix\\_%'"
    )
    for name, _ in indexes:
        await connection.execute(f'DROP INDEX "{name}"')
    await connection.execute("SET session_replication_role = replica")
    yield
    await connection.execute("RESET session_replication_role")
    say(f"  building {len(indexes)} indexes ...")
    for _, definition in indexes:
        await connection.execute(definition)


async def seed(database: str, args: argparse.Namespace) -> None:
    rng = random.Random(5)
    started = time.monotonic()
    history, balances = ledger_history(rng, args.users, args.transactions)
    billing = billing_history(rng, args.users, args.subscriptions)
    say(f"  generated in {time.monotonic() - started:.1f} s; copying ...")
    wallets = [
        {
            "id": FIRST_WALLET_ID - 1 + user,
            "kind": "wallet",
            "user_id": user,
            "balance": balances[user],
            "created_at": NOW,
            "updated_at": NOW,
        }
        for user in range(1, args.users + 1)
    ]
    connection = await asyncpg.connect(f"{PG_ADMIN}/{database}")
    try:
        async with bulk_load(connection):
            await copy(connection, "credit_accounts", wallets)
            grants, grant_entries = carried_grants(balances)
            await copy(connection, "credit_grants", grants)
            await copy(connection, "credit_grant_entries", grant_entries)
            label = f"  {'credit_transactions, entries':<30}"
            with typer.progressbar(length=len(history), label=label, file=sys.stderr) as bar:
                for transactions, entries in ledger_rows(history):
                    await connection.copy_records_to_table(
                        "credit_transactions", records=transactions, columns=TRANSACTION_COLUMNS
                    )
                    await connection.copy_records_to_table(
                        "credit_entries", records=entries, columns=ENTRY_COLUMNS
                    )
                    bar.update(len(transactions))
            await copy(connection, "subscriptions", billing.subscriptions)
            await copy(connection, "payments", billing.payments)
            await copy(connection, "webhook_events", billing.events)
        say("  VACUUM ANALYZE ...")
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    say(
        f"seeded {args.users:,} wallets, {len(history):,} transactions, "
        f"{len(billing.subscriptions):,} subscriptions, {len(billing.payments):,} payments, "
        f"{len(billing.events):,} events in {time.monotonic() - started:.1f} s"
    )


def verify(database: str) -> str:
    started = time.monotonic()
    command = [sys.executable, "-m", "billing", "verify-ledger"]
    env = {**os.environ, "DATABASE_URL": async_url(database), "BILLING_ENV": "development"}
    result = subprocess.run(command, env=env, check=False, capture_output=True, text=True)
    verdict = (result.stdout.strip().splitlines() or [result.stderr.strip()])[-1]
    say(f"verify-ledger ({time.monotonic() - started:.1f} s): {verdict}")
    if result.returncode != 0:
        raise SystemExit(f"the seeded ledger is inconsistent: {verdict}")
    return verdict


def build_rollups(database: str) -> float:
    """The sums the payments' and subscriptions' triggers keep, then the worker's
    `ledger_rollups` job run once over the seeded ledger; the seconds they took."""

    async def run() -> None:
        settings = Settings(_env_file=None, BILLING_ENV="development")
        built = Database(settings.model_copy(update={"DATABASE_URL": async_url(database)}))
        try:
            # The seed's COPY ran with triggers off, as a restore does (which would carry
            # the sums they keep over): they are summed once from the rows.
            async with built.sessions() as session, session.begin():
                await rebuild_payment_totals(session)
                await rebuild_plan_totals(session)
            await roll_up(built)
        finally:
            await built.dispose()

    started = time.monotonic()
    asyncio.run(run())
    tables = "credit_day_totals, credit_spend_windows, credit_rollups, payment_day_totals,"
    tables += " subscription_plan_totals"
    psql(database, f"VACUUM ANALYZE {tables}")
    seconds = time.monotonic() - started
    say(f"ledger rollups built in {seconds:.1f} s")
    return seconds


def time_calls(base_url: str, days: int, calls: int) -> tuple[float, list[float]]:
    """The first call's latency (the process compiles the dashboard's statements on it)
    and the `calls` latencies after it, sorted."""
    token = issue_token(
        Settings(_env_file=None, BILLING_ENV="development"), 1, "admin", timedelta(hours=1)
    )
    today = NOW.date()
    params = {"from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat()}
    headers = {"Authorization": f"Bearer {token}"}
    latencies = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for _ in range(calls + 1):
            started = time.perf_counter()
            reply = client.get("/api/financial/admin/dashboard", params=params)
            latencies.append((time.perf_counter() - started) * 1000)
            reply.raise_for_status()
    return latencies[0], sorted(latencies[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--subscriptions", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    figures: dict[str, dict[str, float]] = {}
    with scratch_database("billing_bench_dashboard") as database:
        say("seeding ...")
        upgrade(async_url(database))
        asyncio.run(seed(database, args))
        rollups = build_rollups(database)
        verdict = verify(database)
        with service(database, workers=1) as base_url:
            for name, days in RANGES.items():
                say(f"  dashboard, last {name}: {args.calls} calls ...")
                first, latencies = time_calls(base_url, days, args.calls)
                figures[name] = {
                    "first_ms": first,
                    "p50_ms": percentile(latencies, 0.50),
                    "p95_ms": percentile(latencies, 0.95),
                    "load": os.getloadavg()[0],  # a shared machine slows every figure
                    "rollups_s": rollups,
                }
    print("| range | first call ms | calls | p50 ms | p95 ms | load (1 min) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in figures.items():
        cells = [f"last {name}", f"{row['first_ms']:.1f}", str(args.calls)]
        cells += [f"{row[key]:.1f}" for key in ("p50_ms", "p95_ms")]
        cells.append(f"{row['load']:.1f} on {os.cpu_count()} CPUs")
        print(f"| {' | '.join(cells)} |")
    for name, target in TARGET_P95_MS.items():
        print(f"{name} p95: {figures[name]['p95_ms']:.1f} ms (target <= {target:.0f})")
    print(f"ledger rollups built in {rollups:.1f} s")
    print(f"ledger after seeding: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
