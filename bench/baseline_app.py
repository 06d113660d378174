"""Baselines served on the same uvicorn settings as the service.

`POST .../spend` (bench/spend.py): a bare FastAPI + asyncpg spend endpoint. No auth, no
idempotency, no ledger entries beyond one row, no middleware: the same raw SQL pgbench
runs (UPDATE wallet + INSERT entry). The service's distance from this is the price of
everything it adds. Needs BASELINE_DSN.

`sqlite_app`'s `POST .../spend` (bench/sqlite.py): the same bare endpoint on a SQLite
file (BASELINE_SQLITE), running raw SQLite's transaction inline on the loop, as the
service runs its SQLite transactions. Served by one process, as `billing serve` is on
SQLite.

`GET /hello` (bench/report.py): hello world, the ceiling of the HTTP stack itself on
this machine; no database, so it runs without BASELINE_DSN.

`receiver` (bench/outbound.py): a platform's webhook receiver that takes every message
at once (204), as a bare ASGI app: what is timed is the sending, not a framework.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI
from pydantic import BaseModel

pools: list[asyncpg.Pool] = []


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    dsn = os.environ.get("BASELINE_DSN")
    if dsn is None:
        yield
        return
    pools.append(await asyncpg.create_pool(dsn, min_size=20, max_size=20))
    yield
    await pools.pop().close()


app = FastAPI(lifespan=lifespan)


async def receiver(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """204 to a POST once its body is read, 200 to anything else (a readiness probe)."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    status = 204 if scope["method"] == "POST" else 200
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


class Spend(BaseModel):
    amount: int


@app.post("/api/financial/credits/{user_id}/spend")
async def spend(user_id: int, body: Spend) -> dict[str, int | None]:
    async with pools[0].acquire() as connection, connection.transaction():
        balance = await connection.fetchval(
            "UPDATE bench_wallets SET balance = balance - $2"
            " WHERE user_id = $1 AND balance >= $2 RETURNING balance",
            user_id,
            body.amount,
        )
        await connection.execute(
            "INSERT INTO bench_entries (user_id, amount, balance_after, created_at)"
            " VALUES ($1, $2, $3, now())",
            user_id,
            -body.amount,
            balance,
        )
    return {"balance": balance}


connections: list[sqlite3.Connection] = []


@asynccontextmanager
async def sqlite_lifespan(_: FastAPI) -> AsyncIterator[None]:
    connection = sqlite3.connect(os.environ["BASELINE_SQLITE"], isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL"):
        connection.execute(f"PRAGMA {pragma}")
    connections.append(connection)
    yield
    connections.pop().close()


sqlite_app = FastAPI(lifespan=sqlite_lifespan)


@sqlite_app.post("/api/financial/credits/{user_id}/spend")
async def spend_on_sqlite(user_id: int, body: Spend) -> dict[str, int | None]:
    connection = connections[0]
    connection.execute("BEGIN IMMEDIATE")
    try:
        (balance,) = connection.execute(
            "UPDATE bench_wallets SET balance = balance - ?1"
            " WHERE user_id = ?2 AND balance >= ?1 RETURNING balance",
            (body.amount, user_id),
        ).fetchone()
        connection.execute(
            "INSERT INTO bench_entries (user_id, amount, balance_after, created_at)"
            " VALUES (?, ?, ?, datetime('now'))",
            (user_id, -body.amount, balance),
        )
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return {"balance": balance}
