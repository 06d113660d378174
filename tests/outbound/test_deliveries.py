"""What an admin sees of the sending and may do to it: each endpoint's deliveries, a
retry now, and a `ping` from the command line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from billing.core.config import Settings
from billing.db import outbox
from billing.db.engine import Database
from billing.outbound.dispatcher import BACKOFF, deliver
from billing.outbound.models import WebhookDelivery
from billing.outbound.sending import client as http_client
from billing.runtime.cli import app
from tests.conftest import Credentials
from tests.support.credits import assert_problem
from tests.support.receiver import Receiver, receiver
from tests.support.worker import worker_env

# Money paths: on PostgreSQL, also through PgBouncer in transaction pooling.
pytestmark = pytest.mark.pgbouncer

ENDPOINTS, DELIVERIES = "/api/admin/webhook-endpoints", "/api/admin/webhook-deliveries"


@pytest.fixture
async def platform() -> AsyncIterator[Receiver]:
    async with receiver() as endpoint:
        yield endpoint


async def _endpoint(client: httpx.AsyncClient, creds: Credentials, url: str) -> int:
    created = await client.post(
        ENDPOINTS, json={"url": url, "events": ["*"]}, headers=creds.admin()
    )
    assert created.status_code == 201, created.text
    endpoint_id: int = created.json()["id"]
    return endpoint_id


async def _emit(database: Database, count: int) -> None:
    async with database.sessions() as session, session.begin():
        for n in range(count):
            outbox.write(session, "credits.low", {"n": n}, n)


async def _page(
    client: httpx.AsyncClient, creds: Credentials, endpoint_id: int, query: str = ""
) -> dict[str, Any]:
    listed = await client.get(f"{ENDPOINTS}/{endpoint_id}/deliveries{query}", headers=creds.admin())
    assert listed.status_code == 200, listed.text
    page: dict[str, Any] = listed.json()
    return page


async def test_an_endpoints_deliveries_page_newest_first_and_a_failed_one_is_retried(
    client: httpx.AsyncClient,
    creds: Credentials,
    database: Database,
    settings: Settings,
    platform: Receiver,
) -> None:
    endpoint_id = await _endpoint(client, creds, platform.url)
    await _emit(database, 3)
    platform.answers = [410]  # one message is refused (whichever comes first), two delivered
    async with http_client() as http:
        await deliver(database, settings, http)
    first = await _page(client, creds, endpoint_id, "?limit=2")
    second = await _page(client, creds, endpoint_id, f"?limit=2&cursor={first['next_cursor']}")
    listed = first["data"] + second["data"]
    assert (first["has_more"], second["has_more"]) == (True, False)
    assert [d["id"] for d in listed] == sorted((d["id"] for d in listed), reverse=True)
    assert sorted((d["status"], d["last_status_code"]) for d in listed) == [
        ("delivered", 200),
        ("delivered", 200),
        ("pending", 410),
    ]
    [refused] = (await _page(client, creds, endpoint_id, "?status=pending"))["data"]
    assert refused["next_attempt_at"] is not None
    assert refused["attempts"] == 1

    retried = await client.post(f"{DELIVERIES}/{refused['id']}/retry", headers=creds.admin())
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    async with http_client() as http:
        assert await deliver(database, settings, http) == 1  # now, not after BACKOFF[0]
    assert BACKOFF[0].total_seconds() > 1
    assert platform.ids().count(refused["message_id"]) == 2
    assert (await _page(client, creds, endpoint_id, "?status=pending"))["data"] == []


async def test_a_deleted_endpoint_has_no_deliveries_to_see_retry_or_send(
    client: httpx.AsyncClient,
    creds: Credentials,
    database: Database,
    settings: Settings,
    platform: Receiver,
) -> None:
    endpoint_id = await _endpoint(client, creds, platform.url)
    await _emit(database, 1)
    platform.answers = [500]
    async with http_client() as http:
        await deliver(database, settings, http)
    [delivery] = (await _page(client, creds, endpoint_id))["data"]
    await client.delete(f"{ENDPOINTS}/{endpoint_id}", headers=creds.admin())
    async with database.sessions() as session:
        ended = await session.get(WebhookDelivery, delivery["id"])
    assert ended is not None
    assert (ended.status, ended.last_error) == ("failed", "the endpoint was deleted")
    gone = await client.get(f"{ENDPOINTS}/{endpoint_id}/deliveries", headers=creds.admin())
    assert_problem(gone, 404, "not_found")
    again = await client.post(f"{DELIVERIES}/{delivery['id']}/retry", headers=creds.admin())
    assert_problem(again, 404, "not_found")
    assert_problem(
        await client.post(f"{DELIVERIES}/999999/retry", headers=creds.admin()), 404, "not_found"
    )
    assert len(platform.received) == 1


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    env = worker_env(settings.DATABASE_URL, settings.BILLING_DATA_DIR)
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


async def test_the_test_command_pings_one_endpoint_and_says_how_it_answered(
    client: httpx.AsyncClient, creds: Credentials, settings: Settings, platform: Receiver
) -> None:
    pinged = await _endpoint(client, creds, platform.url)
    await _endpoint(client, creds, platform.url + "/other")  # subscribed to all: not pinged
    code, output = await asyncio.to_thread(
        _cli, settings, "webhooks", "test", "--endpoint", str(pinged)
    )
    assert code == 0, output
    assert "delivered msg_" in output
    assert "HTTP 200" in output
    [request] = platform.received
    assert request.path == "/hooks"
    assert b'"type":"ping"' in request.body
    platform.answers = [503]
    code, output = await asyncio.to_thread(
        _cli, settings, "webhooks", "test", "--endpoint", str(pinged)
    )
    assert code == 1
    assert "FAILED" in output
    assert "HTTP 503" in output
