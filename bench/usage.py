"""Usage batches: debits per second through `POST /api/financial/usage`, against pgbench.

Starts `billing serve` on PostgreSQL with 2 workers and drives batches of 100 and of 1,000
debits (random users, each wallet holding three grants, one service API key, fresh keys
for every event) from `--connections` connections with wrk. In the same run, pgbench runs
the single-spend baseline (UPDATE a wallet, INSERT an entry) at 64 clients. Prints debits
per second (requests/s times the batch size), the request p99, the ratio to pgbench's
transactions per second, and whether every event posted and the ledger verifies. Then
times the rows a batch writes, alone (`ROWS_ALONE`): the floor under any way of posting it.

    python bench/usage.py [--seconds 15] [--connections 8] [--users 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import replace
from pathlib import Path

import asyncpg
from common import (
    BARE_TABLES_SQL,
    PG_ADMIN,
    PGBENCH_SCRIPT,
    Figures,
    async_url,
    billing_cli,
    fund_wallets,
    pgbench,
    psql,
    say,
    scratch_database,
    service,
    table,
    write_json,
    wrk,
)

from billing.migrations import upgrade

SEED_BALANCE = 10**12
BATCHES = (100, 1000)
PGBENCH_CLIENTS = 64  # as bench/spend.py's baseline
SERVICE_ENV = {"BILLING_RATE_LIMIT": "1000000/second"}
# Each request: BENCH_BATCH events for random users, keys unique across threads and runs.
WRK_SCRIPT = """
local size = tonumber(os.getenv("BENCH_BATCH"))
local users = tonumber(os.getenv("BENCH_USERS"))
local run = os.getenv("BENCH_RUN")
local threads, counter = 0, 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = os.getenv("BENCH_KEY")
request = function()
  counter = counter + 1
  local events = {}
  for i = 1, size do
    events[i] = string.format(
      '{"user_id":%d,"amount":1,"idempotency_key":"%s-%d-%d-%d"}',
      math.random(1, users), run, tid, counter, i)
  end
  local body = '{"events":[' .. table.concat(events, ",") .. ']}'
  return wrk.format(nil, "/api/financial/usage", nil, body)
end
"""
POSTED = "SELECT count(*) FROM credit_transactions WHERE kind = 'spend'"
# The rows a batch of debits writes, and nothing else (no key check, lock, balance or
# grant): what PostgreSQL cannot go below for a batch however it is posted.
ROWS_ALONE = """
WITH txn AS (
    INSERT INTO credit_transactions (kind, user_id, amount, idempotency_key, fingerprint, actor,
                                     created_at)
    SELECT 'spend', u, 1, k, 'spend:1', 'service:bench', now()
    FROM unnest($1::bigint[], $2::varchar[]) AS e(u, k)
    RETURNING id, user_id
), entries AS (
    INSERT INTO credit_entries (transaction_id, account_id, amount, balance_after)
    SELECT id, CASE WHEN side = 1 THEN user_id + 6 ELSE 4 END, 2 * side - 3,
           CASE WHEN side = 1 THEN 0 END
    FROM txn, (VALUES (1), (2)) AS sides(side)
), grant_entries AS (
    INSERT INTO credit_grant_entries (transaction_id, grant_id, amount)
    SELECT id, user_id, -1 FROM txn
), audit AS (
    INSERT INTO audit_log (created_at, actor, action, target, user_id, request_id, details)
    SELECT now(), 'service:bench', 'credit.spend', 'user:' || user_id, user_id, 'bench',
           '{"amount": 1}'::jsonb
    FROM txn
)
SELECT count(*) FROM txn
"""
ROWS_ALONE_ROUNDS = 10


async def rows_alone(database: str, events: int) -> Figures:
    """How many debits per second one core could write were a batch nothing but its
    rows (each round rolled back), from the median round."""
    connection = await asyncpg.connect(f"{PG_ADMIN}/{database}")
    seconds = []
    try:
        for round_ in range(ROWS_ALONE_ROUNDS):
            users = [n % 10_000 + 1 for n in range(events)]
            keys = [f"alone-{round_}-{n}" for n in range(events)]
            transaction = connection.transaction()
            await transaction.start()
            started = time.perf_counter()
            await connection.execute(ROWS_ALONE, users, keys)
            seconds.append(time.perf_counter() - started)
            await transaction.rollback()
    finally:
        await connection.close()
    per_event = statistics.median(seconds) / events
    say(f"  the rows alone: {per_event * 1e6:.1f} us of PostgreSQL per debit")
    return Figures(f"the rows alone, batches of {events:,} (debits/s, one core)", 1 / per_event)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with scratch_database("billing_bench_usage") as database:
        say(f"seeding {args.users:,} wallets of three grants ...")
        upgrade(async_url(database))
        fund_wallets(database, args.users, SEED_BALANCE)
        psql(database, BARE_TABLES_SQL.format(users=args.users, balance=SEED_BALANCE))
        key = billing_cli(database, "api-key", "create", "--role", "service", "--name", "bench")
        base = {"BENCH_KEY": key.stdout.strip(), "BENCH_USERS": str(args.users)}
        figures: dict[str, Figures] = {}
        with service(database, extra_env=SERVICE_ENV) as base_url:
            say(f"service up at {base_url}; warming up ...")
            warm = {**base, "BENCH_BATCH": "100", "BENCH_RUN": "warm"}
            wrk("warm-up", base_url, WRK_SCRIPT, 3, args.connections, warm)
            requests = 0.0
            for size in BATCHES:
                env = {**base, "BENCH_BATCH": str(size), "BENCH_RUN": f"b{size}"}
                name = f"usage, batches of {size:,}"
                run = wrk(name, base_url, WRK_SCRIPT, args.seconds, args.connections, env)
                requests += run.rate * args.seconds
                debits = replace(run, name=f"{name} (debits/s)", rate=run.rate * size)
                figures[f"batch_{size}"] = debits
        figures["rows_alone"] = asyncio.run(rows_alone(database, max(BATCHES)))
        variables = {"users": str(args.users), "hot": "0"}
        name = "pgbench, single spends, random users"
        figures["pgbench_random"] = pgbench(
            name, database, PGBENCH_SCRIPT, args.seconds, PGBENCH_CLIENTS, variables
        )
        posted = int(psql(database, POSTED).strip())
        started = time.monotonic()
        verified = billing_cli(database, "verify-ledger").stdout.strip().splitlines()[-1]
        say(f"verify-ledger ({time.monotonic() - started:.1f} s): {verified}")

    print("\n" + table(list(figures.values())))
    baseline = figures["pgbench_random"].rate
    for size in BATCHES:
        ratio = figures[f"batch_{size}"].rate / baseline
        print(f"batches of {size:,}: {ratio:.2f}x pgbench single-spend TPS (target >= 5)")
    ceiling = figures["rows_alone"].rate / baseline
    print(f"the rows alone: {ceiling:.2f}x pgbench single-spend TPS per core of PostgreSQL")
    print(f"spend transactions posted: {posted:,} (wrk counted about {requests:,.0f} requests)")
    if args.json:
        write_json(args.json, figures, verified=verified, posted=posted)


if __name__ == "__main__":
    main()
