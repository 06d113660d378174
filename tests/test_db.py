"""Database plumbing: lost connections and an exhausted pool answer 503, then recover."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from billing.config import Settings
from billing.credits.verify import verify_ledger
from billing.db import Database
from billing.errors import to_problem
from tests.conftest import Credentials
from tests.credits.helpers import add, balance, spend


async def test_lost_connections_answer_503_and_the_pool_recovers(
    client: httpx.AsyncClient, creds: Credentials, database: Database, settings: Settings
) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite has no server connection to lose; this is the PostgreSQL path")
    await add(client, creds.admin(), 1, 100)
    opened = await asyncio.gather(*(spend(client, creds.bearer(1), 1, 1) for _ in range(6)))
    assert [r.status_code for r in opened] == [200] * 6  # several pooled connections now
    async with database.engine.connect() as connection:
        await connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    statuses = [(await spend(client, creds.bearer(1), 1, 1)).status_code for _ in range(25)]
    assert 503 in statuses, "no request met a lost connection: the test proves nothing"
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[-5:] == [200] * 5, statuses
    spent = 6 + statuses.count(200)
    assert await balance(client, creds.bearer(1), 1) == 100 - spent
    async with database.sessions() as session, session.begin():
        assert (await verify_ledger(session)).ok


def test_an_exhausted_pool_is_service_unavailable() -> None:
    problem = to_problem(PoolTimeout("QueuePool limit reached"))
    assert problem.status == 503
    assert problem.code == "service_unavailable"
    assert problem.headers()["Retry-After"]
