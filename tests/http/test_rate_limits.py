"""Rate limits: per caller on the API, per source address on the webhook, before any work;
shared through Redis by several processes, and never in the way when Redis is down."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import redis
from fastapi import FastAPI
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy import func, select

from billing.auth.tokens import issue_token
from billing.core.config import ConfigurationError, Settings, load_settings
from billing.http.app import create_app
from billing.webhooks.models import WebhookEvent
from tests.conftest import Credentials
from tests.support.credits import CREDITS, assert_problem
from tests.support.server import running_server
from tests.support.stripe_events import sign, stripe_event

REDIS_URL = os.environ.get("TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="TEST_REDIS_URL is not set: the shared-limit tests need a real Redis"
)
WEBHOOK, SECRET = "/api/stripe/webhook", "whsec_rate_limits"
CONFIG = "/api/stripe/config"  # public, reads no database
MakeApp = Callable[..., FastAPI]


@asynccontextmanager
async def client_for(app: FastAPI, address: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client whose requests come from `address`."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:
        yield http


@pytest.fixture
async def make_app(settings: Settings) -> AsyncIterator[MakeApp]:
    """create_app for `settings` with some variables changed; databases disposed after."""
    apps: list[FastAPI] = []

    def make(**update: object) -> FastAPI:
        apps.append(create_app(settings.model_copy(update=update)))
        return apps[-1]

    yield make
    for app in apps:
        await app.state.database.dispose()


def assert_limited(response: httpx.Response, window: int) -> None:
    body = assert_problem(response, 429, "rate_limited")
    assert response.headers["Retry-After"].isdigit()
    assert 1 <= int(response.headers["Retry-After"]) <= window
    assert body["retry_after"] == int(response.headers["Retry-After"])


async def test_over_the_limit_is_429_with_retry_after_then_served_again(
    make_app: MakeApp, creds: Credentials
) -> None:
    app = make_app(BILLING_RATE_LIMIT="2 per 2 seconds;100/minute")
    async with client_for(app) as http:
        user = creds.bearer(42)
        for _ in range(2):
            assert (await http.get(f"{CREDITS}/42", headers=user)).status_code == 200
        refused = await http.get(f"{CREDITS}/42", headers=user)
        assert_limited(refused, window=2)
        await asyncio.sleep(int(refused.headers["Retry-After"]) + 0.05)
        assert (await http.get(f"{CREDITS}/42", headers=user)).status_code == 200


async def test_each_principal_has_its_own_limit(make_app: MakeApp, creds: Credentials) -> None:
    app = make_app(BILLING_RATE_LIMIT="2/minute")
    first_key, second_key = await creds.api_key("service"), await creds.api_key("service")
    async with client_for(app, "198.51.100.1") as elsewhere:  # until verified, a key counts
        for key in (first_key, second_key):  # against its address: verify each once
            assert (await elsewhere.get(f"{CREDITS}/7", headers=key)).status_code == 200
    async with client_for(app) as http:
        for headers, user_id in ((creds.bearer(42), 42), (first_key, 7)):
            for _ in range(2):
                assert (await http.get(f"{CREDITS}/{user_id}", headers=headers)).status_code == 200
            assert_limited(await http.get(f"{CREDITS}/{user_id}", headers=headers), window=60)
        # Same address, other principals: untouched by the two limits above.
        for headers in (creds.bearer(43), creds.bearer(42, "admin"), second_key):
            assert (await http.get(f"{CREDITS}/43", headers=headers)).status_code == 200


async def test_a_limited_request_does_no_work(make_app: MakeApp, creds: Credentials) -> None:
    """A spend over the limit moves no credits, and a replay over it is not replayed."""
    app = make_app(BILLING_RATE_LIMIT="2/minute")
    async with client_for(app) as http:
        grant = {"amount": 10, "reason": "test"}
        assert (await http.post(f"{CREDITS}/42/add", json=grant, headers=creds.admin())).is_success
        for key in ("first", "second"):
            headers = {**creds.bearer(42), "Idempotency-Key": key}
            spent = await http.post(f"{CREDITS}/42/spend", json={"amount": 4}, headers=headers)
            assert spent.status_code == 200, spent.text
        for key, amount in (("third", 1), ("first", 4)):
            headers = {**creds.bearer(42), "Idempotency-Key": key}
            refused = await http.post(
                f"{CREDITS}/42/spend", json={"amount": amount}, headers=headers
            )
            assert_limited(refused, window=60)
            assert "Idempotent-Replayed" not in refused.headers
        balance = await http.get(f"{CREDITS}/42", headers=creds.admin())
        assert balance.json()["balance"] == 2


async def test_the_limit_comes_before_the_database(make_app: MakeApp, tmp_path: Path) -> None:
    """With no database at all, calls within the limit fail on it; the one over it is a
    429, so it never reached the database (nor an API key lookup)."""
    app = make_app(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/missing/billing.db",
        BILLING_RATE_LIMIT="2/minute",
    )
    token = issue_token(app.state.settings, 42, "user", timedelta(minutes=5))
    async with client_for(app) as http:
        for headers in ({"Authorization": f"Bearer {token}"}, {"X-API-Key": "bk_unknown"}):
            for _ in range(2):
                assert_problem(
                    await http.get(f"{CREDITS}/42", headers=headers), 503, "service_unavailable"
                )
            assert_limited(await http.get(f"{CREDITS}/42", headers=headers), window=60)


async def test_anonymous_and_badly_authenticated_calls_are_limited_per_address(
    make_app: MakeApp,
) -> None:
    app = make_app(BILLING_RATE_LIMIT="2/minute")
    async with client_for(app, "198.51.100.1") as first, client_for(app, "198.51.100.2") as other:
        assert (await first.get(CONFIG)).status_code == 200
        bad = {"Authorization": "Bearer not-a-token"}
        assert_problem(await first.get(f"{CREDITS}/42", headers=bad), 401, "unauthenticated")
        assert_limited(await first.get(CONFIG), window=60)
        assert_limited(await first.get(f"{CREDITS}/42", headers=bad), window=60)
        assert (await other.get(CONFIG)).status_code == 200


async def test_the_webhook_is_limited_per_source_and_a_refused_event_is_not_stored(
    make_app: MakeApp,
) -> None:
    app = make_app(
        STRIPE_WEBHOOK_SECRET=SecretStr(SECRET),
        BILLING_RATE_LIMIT="1/minute",
        BILLING_WEBHOOK_RATE_LIMIT="2/minute",
    )

    async def deliver(http: httpx.AsyncClient) -> httpx.Response:
        payload = stripe_event("price.created")
        headers = {"Stripe-Signature": sign(payload, SECRET), "Content-Type": "application/json"}
        return await http.post(WEBHOOK, content=payload, headers=headers)

    async with client_for(app, "203.0.113.5") as stripe, client_for(app, "203.0.113.6") as other:
        assert [(await deliver(stripe)).status_code for _ in range(2)] == [200, 200]
        assert_limited(await deliver(stripe), window=60)
        assert (await deliver(other)).status_code == 200
        # The API's own (smaller) limit for this address is a separate count.
        assert (await stripe.get(CONFIG)).status_code == 200
    async with app.state.database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookEvent)) == 3


async def test_health_and_metrics_are_never_limited(make_app: MakeApp) -> None:
    app = make_app(BILLING_RATE_LIMIT="1/minute")
    async with client_for(app) as http:
        for _ in range(3):
            for path in ("/healthz", "/readyz", "/metrics"):
                assert (await http.get(path)).status_code == 200, path
        assert (await http.get(CONFIG)).status_code == 200
        assert_limited(await http.get(CONFIG), window=60)
        assert (await http.get("/healthz")).status_code == 200


def unchecked() -> float:
    return REGISTRY.get_sample_value("billing_rate_limit_unchecked_total") or 0.0


async def test_an_unreachable_redis_lets_every_request_through(make_app: MakeApp) -> None:
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0", BILLING_RATE_LIMIT="1/minute")
    before = unchecked()
    async with client_for(app) as http:
        statuses = [(await http.get(CONFIG)).status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert unchecked() - before == 5


@pytest.mark.parametrize("value", ["lots", "0/second", "10/fortnight", "", "10/second;;"])
def test_a_bad_limit_stops_startup_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("BILLING_WEBHOOK_RATE_LIMIT", value)
    with pytest.raises(ConfigurationError, match="BILLING_WEBHOOK_RATE_LIMIT"):
        load_settings()


def test_a_redis_url_of_another_scheme_stops_startup(settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="REDIS_URL"):
        create_app(settings.model_copy(update={"REDIS_URL": "http://127.0.0.1:6379"}))


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own, so parallel runs never share counters."""
    assert REDIS_URL is not None
    prefix = f"billing:ratelimit:test-{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@needs_redis
async def test_two_processes_share_one_limit_through_redis(
    settings: Settings, creds: Credentials, redis_prefix: str
) -> None:
    assert REDIS_URL is not None
    env = {
        "DATABASE_URL": settings.DATABASE_URL,
        "BILLING_DATA_DIR": str(settings.BILLING_DATA_DIR),
        "BILLING_ENV": "development",
        "BILLING_RUN_WORKER": "false",
        "REDIS_URL": REDIS_URL,
        "BILLING_RATE_LIMIT_KEY_PREFIX": redis_prefix,
        "BILLING_RATE_LIMIT": "10/minute",
    }
    with ExitStack() as stack:
        servers = [stack.enter_context(running_server(env)) for _ in range(2)]
        user = creds.bearer(42)
        async with httpx.AsyncClient(timeout=10) as http:
            responses = [
                await http.get(f"{servers[i % 2]}{CREDITS}/42", headers=user) for i in range(14)
            ]
            other_user = await http.get(f"{servers[1]}{CREDITS}/43", headers=creds.bearer(43))
    assert [r.status_code for r in responses] == [200] * 10 + [429] * 4
    for refused in responses[10:]:  # two from each process
        assert_limited(refused, window=60)
    assert other_user.status_code == 200
    stored = redis.Redis.from_url(REDIS_URL)
    assert list(stored.scan_iter(match=f"{redis_prefix}:*")), "no counter in Redis"
    stored.close()
