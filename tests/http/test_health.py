"""Liveness, readiness and metrics, and who may scrape the metrics."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import text

from billing.core.config import Settings
from billing.db.engine import Database
from billing.http.app import create_app
from billing.migrations import head_revision
from tests.conftest import Credentials, asgi_client
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


METRICS_TOKEN = "m" * 40
PRODUCTION = {
    "BILLING_ENV": "production",
    "BILLING_JWT_SECRET": SecretStr("j" * 40),
    "STRIPE_SECRET_KEY": SecretStr("sk_test_x"),
    "STRIPE_WEBHOOK_SECRET": SecretStr("whsec_x"),
    "BILLING_ENCRYPTION_KEYS": SecretStr("Zt2nVnqyjTTT4yzgpcJnXbFt2-hHFqV0HIXwTWZtN4E="),
    "BILLING_ALLOWED_REDIRECT_HOSTS": "app.example.com",
}


@pytest.mark.parametrize("production", [False, True], ids=["development", "production"])
async def test_metrics_with_a_token_take_only_that_bearer_token(
    settings: Settings, production: bool
) -> None:
    token = SecretStr(METRICS_TOKEN)
    values = {**(PRODUCTION if production else {}), "BILLING_METRICS_TOKEN": token}
    async with asgi_client(settings.model_copy(update=values)) as http:
        for headers in (
            {},
            {"Authorization": f"Bearer {METRICS_TOKEN[:-1]}x"},
            {"Authorization": f"Bearer {METRICS_TOKEN}{METRICS_TOKEN}"},
            {"Authorization": f"Basic {METRICS_TOKEN}"},
            {"Authorization": METRICS_TOKEN},
        ):
            refused = await http.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "unauthenticated"
            assert refused.headers["www-authenticate"] == "Bearer"
            assert "billing_" not in refused.text
        scraped = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert scraped.status_code == 200
        assert "billing_webhook_overdue_seconds" in scraped.text


async def test_metrics_without_a_token_are_closed_in_production(settings: Settings) -> None:
    async with asgi_client(settings.model_copy(update=PRODUCTION)) as http:
        refused = await http.get("/metrics")
        assert refused.status_code == 403
        assert refused.json()["code"] == "forbidden"
        assert "BILLING_METRICS_TOKEN" in refused.json()["detail"]
        anything = await http.get("/metrics", headers={"Authorization": "Bearer guess"})
        assert anything.status_code == 403
        assert (await http.get("/healthz")).status_code == 200


@pytest.mark.parametrize("value", ["", "   ", "short"])
def test_a_metrics_token_must_be_long_enough(value: str) -> None:
    """/metrics is not rate-limited: a short token could be guessed."""
    with pytest.raises(ValidationError, match="BILLING_METRICS_TOKEN"):
        Settings(_env_file=None, BILLING_ENV="development", BILLING_METRICS_TOKEN=value)
