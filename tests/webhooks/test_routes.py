"""POST /api/stripe/webhook: only signed events get in, each once, and 200 means stored."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import stripe
from pydantic import SecretStr
from sqlalchemy import select, text

from billing.core.config import Settings
from billing.db.engine import Database
from billing.http.app import create_app
from billing.webhooks.models import WebhookEvent
from tests.support.credits import assert_problem
from tests.support.stripe_events import sign, stripe_event

URL = "/api/stripe/webhook"
SECRET, OLD_SECRET = "whsec_current", "whsec_previous"


@pytest.fixture
async def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"STRIPE_WEBHOOK_SECRET": SecretStr(f"{SECRET}, {OLD_SECRET}")}
    )


@pytest.fixture
async def webhook_client(app_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(app_settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:
        http.database = app.state.database  # type: ignore[attr-defined]
        yield http
    await app.state.database.dispose()


async def stored(client: httpx.AsyncClient) -> list[WebhookEvent]:
    database: Database = client.database  # type: ignore[attr-defined]
    async with database.sessions() as session:
        return list((await session.scalars(select(WebhookEvent))).all())


async def deliver(
    client: httpx.AsyncClient, payload: bytes, signature: str | None
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return await client.post(URL, content=payload, headers=headers)


async def test_a_signed_event_is_stored_once_and_acknowledged(
    webhook_client: httpx.AsyncClient,
) -> None:
    payload = stripe_event("invoice.paid", api_version="2025-03-31.basil")
    signature = sign(payload, SECRET)
    # The header is the one Stripe's own SDK accepts.
    assert stripe.Webhook.construct_event(payload, signature, SECRET).type == "invoice.paid"

    first = await deliver(webhook_client, payload, signature)
    assert first.status_code == 200
    assert first.json() == {"received": True, "duplicate": False}
    again = await deliver(webhook_client, payload, sign(payload, SECRET))
    assert again.json() == {"received": True, "duplicate": True}

    [event] = await stored(webhook_client)
    assert event.type == "invoice.paid"
    assert event.status == "pending"
    assert event.api_version == "2025-03-31.basil"
    assert event.payload is not None
    assert event.payload["id"] == event.stripe_event_id


async def test_the_previous_secret_still_verifies_during_rotation(
    webhook_client: httpx.AsyncClient,
) -> None:
    payload = stripe_event()
    assert (await deliver(webhook_client, payload, sign(payload, OLD_SECRET))).status_code == 200
    assert len(await stored(webhook_client)) == 1


def _tampered(payload: bytes) -> tuple[bytes, str]:
    return payload.replace(b'"livemode": false', b'"livemode": true'), sign(payload, SECRET)


@pytest.mark.parametrize(
    "forge",
    [
        lambda p: (p, None),
        lambda p: (p, ""),
        lambda p: (p, "garbage"),
        lambda p: (p, sign(p, "whsec_someone_else")),
        lambda p: (p, sign(p, SECRET, int(time.time()) - 301)),
        lambda p: (p, sign(p, SECRET).replace("v1=", "v0=")),
        _tampered,
    ],
    ids=["no header", "empty", "garbage", "wrong secret", "too old", "v0 only", "tampered"],
)
async def test_anything_unsigned_is_refused_and_nothing_is_stored(
    webhook_client: httpx.AsyncClient, forge: object
) -> None:
    payload, signature = forge(stripe_event())  # type: ignore[operator]
    assert_problem(await deliver(webhook_client, payload, signature), 400, "invalid_signature")
    assert await stored(webhook_client) == []


async def test_without_a_configured_secret_nothing_verifies(
    client: httpx.AsyncClient,
) -> None:
    payload = stripe_event()
    response = await deliver(client, payload, sign(payload, SECRET))
    assert_problem(response, 400, "invalid_signature")


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"object": "charge", "id": "ch_1"}', b'{"object": "event"}'],
    ids=["not json", "a list", "not an event", "no id"],
)
async def test_a_signed_body_that_is_not_an_event_is_refused(
    webhook_client: httpx.AsyncClient, body: bytes
) -> None:
    assert_problem(await deliver(webhook_client, body, sign(body, SECRET)), 422, "validation_error")
    assert await stored(webhook_client) == []


async def test_a_body_over_one_mebibyte_is_refused(webhook_client: httpx.AsyncClient) -> None:
    payload = stripe_event(padding="x" * (1024 * 1024))
    response = await deliver(webhook_client, payload, sign(payload, SECRET))
    assert_problem(response, 413, "payload_too_large")
    assert await stored(webhook_client) == []


async def test_an_unreachable_database_answers_503_so_stripe_retries(
    app_settings: Settings,
) -> None:
    down = app_settings.model_copy(
        update={"DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    )
    app = create_app(down)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:
        payload = stripe_event()
        response = await deliver(http, payload, sign(payload, SECRET))
    assert_problem(response, 503, "service_unavailable")
    assert response.headers["Retry-After"]


async def test_concurrent_redeliveries_store_one_event(
    webhook_client: httpx.AsyncClient,
) -> None:
    payload = stripe_event("charge.refunded")
    responses = await asyncio.gather(
        *(deliver(webhook_client, payload, sign(payload, SECRET)) for _ in range(10))
    )
    assert [r.status_code for r in responses] == [200] * 10
    assert sum(not r.json()["duplicate"] for r in responses) == 1
    assert len(await stored(webhook_client)) == 1


async def test_lost_connections_answer_503_and_the_retries_are_stored_once(
    webhook_client: httpx.AsyncClient, app_settings: Settings
) -> None:
    if app_settings.is_sqlite:
        pytest.skip("SQLite has no server connection to lose; this is the PostgreSQL path")
    first = [stripe_event() for _ in range(6)]
    opened = await asyncio.gather(*(deliver(webhook_client, p, sign(p, SECRET)) for p in first))
    assert [r.status_code for r in opened] == [200] * 6  # several pooled connections now
    database: Database = webhook_client.database  # type: ignore[attr-defined]
    async with database.engine.connect() as connection:
        await connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    payloads = [stripe_event() for _ in range(25)]
    statuses = [(await deliver(webhook_client, p, sign(p, SECRET))).status_code for p in payloads]
    assert 503 in statuses, "no delivery met a lost connection: the test proves nothing"
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[-5:] == [200] * 5, statuses
    # Stripe retries what was refused: nothing refused had been stored.
    for payload, status in zip(payloads, statuses, strict=True):
        if status == 503:
            retry = await deliver(webhook_client, payload, sign(payload, SECRET))
            assert retry.json() == {"received": True, "duplicate": False}
    assert len(await stored(webhook_client)) == 6 + 25
