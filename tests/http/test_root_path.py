"""Behind a proxy's prefix (ASGI `root_path`) every middleware sees the path the routes
match: the webhook keeps its 1 MiB body limit and its own rate-limit bucket, and health
and metrics stay unlimited, exactly as without the prefix."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from billing.core.config import Settings
from billing.http.app import create_app
from billing.http.body_limit import DEFAULT_BODY_LIMIT
from billing.http.middleware import route_path
from tests.conftest import Credentials
from tests.support.credits import CREDITS, assert_problem
from tests.support.stripe_events import sign, stripe_event

PREFIX, SECRET = "/billing", "whsec_root_path"
WEBHOOK = "/api/stripe/webhook"
MakeApp = Callable[..., FastAPI]


@pytest.fixture
async def make_app(settings: Settings) -> AsyncIterator[MakeApp]:
    apps: list[FastAPI] = []

    def make(**update: object) -> FastAPI:
        update = {"STRIPE_WEBHOOK_SECRET": SecretStr(SECRET), **update}
        apps.append(create_app(settings.model_copy(update=update)))
        return apps[-1]

    yield make
    for app in apps:
        await app.state.database.dispose()


def mounted(app: FastAPI, address: str = "203.0.113.9") -> httpx.AsyncClient:
    """A client for the app mounted under PREFIX, as a proxy would forward to it."""
    transport = httpx.ASGITransport(
        app=app, root_path=PREFIX, raise_app_exceptions=False, client=(address, 40000)
    )
    return httpx.AsyncClient(transport=transport, base_url="http://billing.test")


def large_event(size: int) -> bytes:
    """A signed-able event body of about `size` bytes: padding in its metadata."""
    event = json.loads(stripe_event("price.created"))
    event["data"]["object"]["metadata"] = {"padding": "x" * size}
    return json.dumps(event).encode()


async def deliver(http: httpx.AsyncClient, payload: bytes) -> httpx.Response:
    headers = {"Stripe-Signature": sign(payload, SECRET), "Content-Type": "application/json"}
    return await http.post(f"{PREFIX}{WEBHOOK}", content=payload, headers=headers)


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/billing/api/stripe/webhook", "/billing", "/api/stripe/webhook"),
        ("/api/stripe/webhook", "", "/api/stripe/webhook"),
        ("/api/stripe/webhook", "/billing", "/api/stripe/webhook"),  # already stripped
        ("/billingx/healthz", "/billing", "/billingx/healthz"),  # not under the prefix
    ],
)
def test_the_route_path_is_the_path_without_the_prefix(path: str, root: str, expected: str) -> None:
    assert route_path({"type": "http", "path": path, "root_path": root}) == expected


async def test_a_webhook_under_a_prefix_keeps_its_1_mib_body_limit(make_app: MakeApp) -> None:
    payload = large_event(2 * DEFAULT_BODY_LIMIT)
    async with mounted(make_app()) as http:
        response = await deliver(http, payload)
    assert response.status_code == 200, response.text


async def test_an_api_body_under_a_prefix_keeps_the_64_kib_limit(
    make_app: MakeApp, creds: Credentials
) -> None:
    body = {"amount": 1, "description": "x" * (2 * DEFAULT_BODY_LIMIT)}
    async with mounted(make_app()) as http:
        response = await http.post(f"{PREFIX}{CREDITS}/7/spend", json=body, headers=creds.bearer(7))
    assert_problem(response, 413, "payload_too_large")


async def test_a_webhook_under_a_prefix_has_its_own_rate_limit_bucket(
    make_app: MakeApp,
) -> None:
    app = make_app(BILLING_RATE_LIMIT="1/minute", BILLING_WEBHOOK_RATE_LIMIT="3/minute")
    async with mounted(app) as http:
        statuses = [(await deliver(http, stripe_event())).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        # The API's bucket for this address is another count, untouched by the deliveries.
        assert (await http.get(f"{PREFIX}/api/stripe/config")).status_code == 200


async def test_health_and_metrics_under_a_prefix_are_never_limited(make_app: MakeApp) -> None:
    app = make_app(BILLING_RATE_LIMIT="1/minute")
    async with mounted(app) as http:
        for _ in range(3):
            for path in ("/healthz", "/readyz", "/metrics"):
                assert (await http.get(f"{PREFIX}{path}")).status_code == 200, path
