"""Liveness, readiness and metrics."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from billing.core.config import Settings
from billing.db.engine import Database
from billing.http.app import create_app
from billing.migrations import head_revision
from tests.conftest import Credentials
from tests.support.credits import add, spend


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_migrated(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["migration"] == head_revision()


async def test_readyz_reports_a_schema_behind_the_code(
    client: httpx.AsyncClient, database: Database
) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert "billing migrate" in response.json()["detail"]
    async with database.engine.begin() as connection:
        await connection.execute(
            text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()}
        )


async def test_readyz_reports_an_unreachable_database() -> None:
    app = create_app(
        Settings(
            _env_file=None,
            BILLING_ENV="development",
            DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


async def test_metrics_count_requests_and_credit_operations(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    await add(client, creds.admin(), 1, 5)
    await spend(client, creds.bearer(1), 1, 10)
    response = await client.get("/metrics")
    assert response.status_code == 200
    body = response.text
    names = {
        line.split("{")[0].split(" ")[0]
        for line in body.splitlines()
        if line and not line.startswith("#")
    }
    assert names
    assert all(name.startswith(("billing_", "python_", "process_")) for name in names)
    assert 'billing_credit_operations_total{kind="admin_grant"}' in body
    assert "billing_insufficient_credits_total" in body
    assert 'route="/api/financial/credits/{user_id}/spend"' in body
