"""Spend throughput and latency of the full service against PostgreSQL's own ceiling.

Starts `billing serve` on PostgreSQL with 2 workers and drives spends from 64
connections with wrk: random users each with its own JWT (users spending their
own credits), random users through one service API key, then one hot user; then
the JWT phase again with the service behind PgBouncer in transaction pooling
(as many server connections as the service has direct ones). In
the same run, two baselines: a bare FastAPI + asyncpg endpoint
(bench/baseline_app.py) and pgbench, both running the equivalent raw SQL
transaction (UPDATE wallet + INSERT entry) at the same concurrency. Prints the
figures, the ratios, and whether the ledger still verifies.

    python bench/spend.py [--seconds 15] [--connections 64] [--users 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import (
    BARE_TABLES_SQL,
    PGBENCH_SCRIPT,
    Figures,
    async_url,
    baseline,
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
from tests.support import pgbouncer

SEED_BALANCE = 10**12
TOKEN_USERS = 2000
# One API key's spends would hit the default limit: far above it, so the figures measure the service
# (the limiter still counts every request, as in production; it just never refuses one).
SERVICE_ENV = {"BILLING_RATE_LIMIT": "1000000/second"}
# The direct phases' connections: 2 workers, each with DATABASE_POOL_SIZE's default.
DIRECT_CONNECTIONS = 40
# Line i of BENCH_TOKENS is user i's bearer token; BENCH_KEY, if set, is used instead.
# Random users are BENCH_OFFSET + 1..BENCH_USERS.
WRK_SCRIPT = """
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local key = os.getenv("BENCH_KEY")
local users = tonumber(os.getenv("BENCH_USERS"))
local hot = tonumber(os.getenv("BENCH_HOT") or "0")
local offset = tonumber(os.getenv("BENCH_OFFSET") or "0")
wrk.method = "POST"
wrk.body = '{"amount": 1}'
wrk.headers["Content-Type"] = "application/json"
request = function()
  local user = hot
  if hot == 0 then user = offset + math.random(1, users) end
  if key then
    wrk.headers["X-API-Key"] = key
  else
    wrk.headers["Authorization"] = "Bearer " .. tokens[user]
  end
  return wrk.format(nil, "/api/financial/credits/" .. user .. "/spend")
end
"""


def billing(database: str, *args: str) -> str:
    return billing_cli(database, *args).stdout


def through_pgbouncer(
    database: str, seconds: int, connections: int, env: dict[str, str]
) -> Figures:
    url = async_url(database)
    with pgbouncer.running(url, pool_size=DIRECT_CONNECTIONS) as bouncer:
        pooled = {"DATABASE_URL": bouncer.url_for(url), "DATABASE_PGBOUNCER": "true"}
        with service(database, extra_env={**SERVICE_ENV, **pooled}) as base_url:
            say("service behind PgBouncer up; warming up ...")
            wrk("warm-up", base_url, WRK_SCRIPT, 3, connections, env)
            name = "service behind PgBouncer, random users, user JWTs"
            return wrk(name, base_url, WRK_SCRIPT, seconds, connections, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    token_users = min(args.users, TOKEN_USERS)

    with scratch_database("billing_bench_spend") as database, tempfile.TemporaryDirectory() as tmp:
        say(f"seeding {args.users:,} funded wallets ...")
        upgrade(async_url(database))
        fund_wallets(database, args.users, SEED_BALANCE)
        psql(database, BARE_TABLES_SQL.format(users=args.users, balance=SEED_BALANCE))
        key = billing(database, "api-key", "create", "--role", "service", "--name", "bench").strip()
        token_file = Path(tmp) / "tokens"
        token_file.write_text("\n".join(tokens(token_users)) + "\n")
        base = {"BENCH_TOKENS": str(token_file), "BENCH_USERS": str(token_users)}
        runs = {
            "service, random users, user JWTs": base,
            "service, random users, service API key": {**base, "BENCH_KEY": key},
            "service, one hot user": {**base, "BENCH_HOT": "1"},
        }
        figures: list[Figures] = []
        with service(database, extra_env=SERVICE_ENV) as base_url:
            say(f"service up at {base_url}; warming up ...")
            wrk("warm-up", base_url, WRK_SCRIPT, 3, args.connections, base)
            for name, env in runs.items():
                figures.append(wrk(name, base_url, WRK_SCRIPT, args.seconds, args.connections, env))
        figures.append(through_pgbouncer(database, args.seconds, args.connections, base))
        with baseline(database) as base_url:
            say("baseline (bare FastAPI + asyncpg) up; warming up ...")
            wrk("warm-up", base_url, WRK_SCRIPT, 3, args.connections, base)
            name = "bare FastAPI + asyncpg, random users"
            figures.append(wrk(name, base_url, WRK_SCRIPT, args.seconds, args.connections, base))
        for name, hot in (("pgbench, random users", "0"), ("pgbench, one hot user", "1")):
            variables = {"users": str(args.users), "hot": hot}
            figures.append(
                pgbench(name, database, PGBENCH_SCRIPT, args.seconds, args.connections, variables)
            )
        started = time.monotonic()
        verified = billing(database, "verify-ledger").strip().splitlines()[-1]
        say(f"verify-ledger ({time.monotonic() - started:.1f} s): {verified}")

    jwt_random, key_random, service_hot, pooled, bare, pg_random, pg_hot = figures
    ratios = {
        "pgbouncer_vs_direct": pooled.rate / jwt_random.rate,
        "random_vs_pgbench": jwt_random.rate / pg_random.rate,
        "random_vs_bare_fastapi": jwt_random.rate / bare.rate,
        "bare_fastapi_vs_pgbench": bare.rate / pg_random.rate,
        "api_key_random_vs_pgbench": key_random.rate / pg_random.rate,
        "hot_vs_pgbench": service_hot.rate / pg_hot.rate,
    }
    print(table(figures))
    print()
    print(f"service/pgbench, random users: {ratios['random_vs_pgbench']:.2f}x (target >= 0.35)")
    print(f"  (with the service API key: {ratios['api_key_random_vs_pgbench']:.2f}x)")
    print(f"behind PgBouncer/direct, random users: {ratios['pgbouncer_vs_direct']:.2f}x")
    print(f"service/bare FastAPI+asyncpg, random users: {ratios['random_vs_bare_fastapi']:.2f}x")
    print(f"bare FastAPI+asyncpg/pgbench, random users: {ratios['bare_fastapi_vs_pgbench']:.2f}x")
    print(f"service/pgbench, one hot user: {ratios['hot_vs_pgbench']:.2f}x (target >= 0.45)")
    p99s = f"random {jwt_random.p99_ms} ms, hot {service_hot.p99_ms} ms"
    print(f"service p99: {p99s} (target <= 100)")
    print(f"ledger after the run: {verified}")
    if args.json:
        keys = [
            "jwt_random",
            "key_random",
            "hot",
            "pgbouncer_random",
            "bare_random",
            "pgbench_random",
            "pgbench_hot",
        ]
        write_json(args.json, dict(zip(keys, figures, strict=True)), ratios=ratios, ledger=verified)


if __name__ == "__main__":
    main()
