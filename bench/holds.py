"""Holds: hold + capture pairs per second through the HTTP API, against pgbench.

Starts `billing serve` on PostgreSQL with 2 workers; wrk's connections place holds of 1
credit for random users (wallets of three grants, each user with its own JWT, as
bench/spend.py's first run) and capture each placed hold as soon as its answer arrives,
so every second request is a capture. In the same run, pgbench runs the single-spend
baseline (UPDATE a wallet, INSERT an entry) at 64 clients. Pairs per second are the
captures the ledger holds after the run over the run's length; prints them, the request
p99, the ratio to pgbench's transactions per second, and whether the ledger verifies.

    python bench/holds.py [--seconds 15] [--connections 64] [--users 10000]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory

from common import (
    BARE_TABLES_SQL,
    PGBENCH_SCRIPT,
    async_url,
    billing_cli,
    fund_wallets,
    pgbench,
    psql,
    say,
    scratch_database,
    service,
    table,
    tokens,
    write_json,
    wrk,
)

from billing.migrations import upgrade

SEED_BALANCE = 10**12
TOKEN_USERS = 2000  # as bench/spend.py
PGBENCH_CLIENTS = 64  # as bench/spend.py's baseline
SERVICE_ENV = {"BILLING_RATE_LIMIT": "1000000/second"}
# A thread's placed holds wait in `placed` until one of its connections captures them.
WRK_SCRIPT = """
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local users = tonumber(os.getenv("BENCH_USERS"))
local placed = {}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local hold = table.remove(placed)
  if hold then
    wrk.headers["Authorization"] = "Bearer " .. tokens[hold.user]
    local path = "/api/financial/credits/" .. hold.user .. "/holds/" .. hold.id .. "/capture"
    return wrk.format(nil, path, nil, "{}")
  end
  local user = math.random(1, users)
  wrk.headers["Authorization"] = "Bearer " .. tokens[user]
  return wrk.format(nil, "/api/financial/credits/" .. user .. "/holds", nil, '{"amount":1}')
end
response = function(status, headers, body)
  if status == 201 then
    local id = body:match('"id":(%d+)')
    local user = body:match('"user_id":(%d+)')
    if id and user then placed[#placed + 1] = {id = id, user = tonumber(user)} end
  end
end
"""
CAPTURED = "SELECT count(*) FROM credit_transactions WHERE kind = 'hold_capture'"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with scratch_database("billing_bench_holds") as database, TemporaryDirectory() as tmp:
        say(f"seeding {args.users:,} wallets of three grants ...")
        upgrade(async_url(database))
        fund_wallets(database, args.users, SEED_BALANCE)
        psql(database, BARE_TABLES_SQL.format(users=args.users, balance=SEED_BALANCE))
        token_users = min(args.users, TOKEN_USERS)
        token_file = Path(tmp) / "tokens"
        token_file.write_text("\n".join(tokens(token_users)) + "\n")
        env = {"BENCH_TOKENS": str(token_file), "BENCH_USERS": str(token_users)}
        with service(database, extra_env=SERVICE_ENV) as base_url:
            say(f"service up at {base_url}; warming up ...")
            wrk("warm-up", base_url, WRK_SCRIPT, 3, args.connections, env)
            warm = int(psql(database, CAPTURED))
            name = "hold + capture pairs"
            run = wrk(name, base_url, WRK_SCRIPT, args.seconds, args.connections, env)
            pairs = (int(psql(database, CAPTURED)) - warm) / args.seconds
            say(f"  {run.rate:,.0f} requests/s, {pairs:,.0f} captures/s")
        variables = {"users": str(args.users), "hot": "0"}
        figures = {
            "pairs": replace(run, name=f"{name} (captures in the ledger)", rate=pairs),
            "pgbench_random": pgbench(
                "pgbench, single spends, random users",
                database,
                PGBENCH_SCRIPT,
                args.seconds,
                PGBENCH_CLIENTS,
                variables,
            ),
        }
        verified = billing_cli(database, "verify-ledger").stdout.strip().splitlines()[-1]
        say(f"verify-ledger: {verified}")

    print("\n" + table(list(figures.values())))
    ratio = figures["pairs"].rate / figures["pgbench_random"].rate
    print(f"hold + capture pairs: {ratio:.2f}x pgbench single-spend TPS (target >= 0.25)")
    if args.json:
        write_json(args.json, figures, verified=verified)


if __name__ == "__main__":
    main()
