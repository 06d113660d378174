"""The service's own CPU per request on its hot routes, with no HTTP server around it.

Calls the ASGI app in this process, `--concurrency` requests at a time, on a scratch
PostgreSQL database (or, with --sqlite, a SQLite file): signed webhook deliveries, spends
with user JWTs and with one service API key (`spend_key`), `/healthz` as the floor of the
middleware stack, and usage batches of `USAGE_BATCH` debits (a request is a batch).
Prints CPU microseconds per request (this process only: PostgreSQL's share is not in it;
the least of `--rounds` rounds, the one least disturbed by the rest of the machine) and
requests/s. On a 2-core machine shared with PostgreSQL and the load generator, this CPU
is what bounds bench/spend.py and bench/webhooks.py; unlike them it barely moves with the
machine's other load. `--route` measures one route only (bench/profile.py runs it under
py-spy).

    python bench/asgi_cpu.py [--requests 4000] [--concurrency 32] [--rounds 3] [--route webhook]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import orjson
import uvloop
from common import (
    Figures,
    billing_at,
    fund_wallets,
    say,
    scratch_url,
    table,
    tokens,
)
from sqlalchemy import make_url
from sqlite import seed
from webhooks import SECRET, event_template, signed_events

from billing.core.config import Settings
from billing.http.app import create_app
from billing.migrations import upgrade

USERS = 500
Request = tuple[str, str, list[tuple[bytes, bytes]], bytes]


def webhook_requests(count: int) -> Iterator[Request]:
    for signature, body in signed_events(event_template(), "cpu", count):
        headers = [(b"stripe-signature", signature.encode())]
        yield "POST", "/api/stripe/webhook", headers, body.encode()


def spend_requests(count: int) -> Iterator[Request]:
    bearer = [f"Bearer {token}".encode() for token in tokens(USERS)]
    for n in range(count):
        yield _spend(n % USERS + 1, [(b"authorization", bearer[n % USERS])])


def key_spend_requests(key: str, count: int) -> Iterator[Request]:
    """The same spends, all through one service API key, as a platform's backend sends."""
    headers = [(b"x-api-key", key.encode())]
    for n in range(count):
        yield _spend(n % USERS + 1, headers)


def _spend(user: int, headers: list[tuple[bytes, bytes]]) -> Request:
    return "POST", f"/api/financial/credits/{user}/spend", headers, orjson.dumps({"amount": 1})


USAGE_BATCH = 100  # events per `usage` request


def usage_requests(count: int) -> Iterator[Request]:
    """Batches of 1-credit debits for users in turn, as an admin (a service key would
    cost a database lookup per request, which is not the batch's own work)."""
    [admin] = tokens(1, "admin")
    headers = [(b"authorization", f"Bearer {admin}".encode())]
    events = itertools.count()
    for _ in range(count):
        batch = [
            {"user_id": n % USERS + 1, "amount": 1, "idempotency_key": f"usage-{n}"}
            for n in itertools.islice(events, USAGE_BATCH)
        ]
        yield "POST", "/api/financial/usage", headers, orjson.dumps({"events": batch})


def health_requests(count: int) -> Iterator[Request]:
    for _ in range(count):
        yield "GET", "/healthz", [], b""


Routes = dict[str, Callable[[int], Iterator[Request]]]
ROUTES: Routes = {
    "webhook": webhook_requests,
    "spend": spend_requests,
    "usage": usage_requests,
    "healthz": health_requests,
}


async def call(app: Any, request: Request) -> int:
    """One request through the ASGI interface, as uvicorn would make it; its status."""
    method, path, headers, body = request
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def drive(app: Any, requests: list[Request], concurrency: int) -> tuple[float, float, int]:
    """(seconds, CPU seconds, non-2xx count) for all of `requests`."""
    queue = iter(requests)
    failures = 0

    async def lane() -> None:
        nonlocal failures
        for request in queue:
            failures += not 200 <= await call(app, request) < 300

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - started, time.process_time() - cpu, failures


async def measure(url: str, routes: Routes, args: argparse.Namespace) -> list[Figures]:
    settings = Settings(
        _env_file=None,
        BILLING_ENV="development",
        DATABASE_URL=url,
        STRIPE_WEBHOOK_SECRET=SECRET,
        BILLING_RUN_WORKER=False,
        BILLING_RATE_LIMIT="1000000/second",
        BILLING_WEBHOOK_RATE_LIMIT="1000000/second",
    )
    app = create_app(settings)
    figures = []
    async with app.router.lifespan_context(app):
        for route in [args.route] if args.route else list(routes):
            warm_up = args.concurrency * 4
            requests = list(routes[route](args.requests * args.rounds + warm_up))
            await drive(app, requests[:warm_up], args.concurrency)
            rounds = [
                await drive(app, requests[start : start + args.requests], args.concurrency)
                for start in range(warm_up, len(requests), args.requests)
            ]
            seconds, cpu, _ = min(rounds, key=lambda r: r[1])
            failures = sum(r[2] for r in rounds)
            rate = args.requests / seconds
            cpu_us = cpu / args.requests * 1e6
            say(f"  {route}: {cpu_us:,.0f} us CPU per request, {rate:,.0f}/s")
            figures.append(Figures(f"{route}: CPU us per request", cpu_us, errors=failures))
    return figures


def fund(url: str, sqlite: bool) -> None:
    """USERS wallets with three grants each: written by the service itself on SQLite."""
    if sqlite:
        asyncio.run(seed(url, USERS))
    else:
        fund_wallets(make_url(url).database or "", USERS, 10**12)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--route", choices=[*ROUTES, "spend_key"])  # spend_key: made in main
    parser.add_argument("--sqlite", action="store_true", help="on a SQLite file instead")
    args = parser.parse_args()
    with scratch_url("billing_bench_asgi", args.sqlite) as url:
        upgrade(url)
        fund(url, args.sqlite)
        key = billing_at(url, "api-key", "create", "--role", "service", "--name", "cpu")
        routes = {**ROUTES, "spend_key": partial(key_spend_requests, key.stdout.strip())}
        figures = uvloop.run(measure(url, routes, args))  # as uvicorn runs it
    print(table(figures))


if __name__ == "__main__":
    main()
