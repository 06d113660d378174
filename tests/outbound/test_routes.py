"""Endpoints over the admin API: the secret shown once and stored encrypted, subscriptions
checked, rotation overlapping for a day, every change audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from billing.audit.models import AuditEntry
from billing.core.config import Settings
from billing.core.encryption import decrypt
from billing.core.times import utcnow
from billing.db.engine import Database
from billing.outbound.models import WebhookEndpoint
from tests.conftest import Credentials
from tests.support.credits import assert_problem
from tests.support.database_text import occurrences

ENDPOINTS = "/api/admin/webhook-endpoints"
RECEIVER = "http://127.0.0.1:9/hook"  # development takes a receiver on this machine


async def _create(client: httpx.AsyncClient, creds: Credentials, **body: Any) -> httpx.Response:
    return await client.post(
        ENDPOINTS, json={"url": RECEIVER, "events": ["*"], **body}, headers=creds.admin()
    )


async def _stored(database: Database, endpoint_id: int) -> WebhookEndpoint:
    async with database.sessions() as session:
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
    assert endpoint is not None
    return endpoint


async def _actions(database: Database, target: str) -> list[str]:
    async with database.sessions() as session:
        query = select(AuditEntry.action).where(AuditEntry.target == target)
        return list((await session.scalars(query.order_by(AuditEntry.id))).all())


async def test_the_secret_is_shown_once_and_stored_only_encrypted(
    client: httpx.AsyncClient, creds: Credentials, database: Database, settings: Settings
) -> None:
    events = ["credits.low", "credits.depleted", "credits.low"]
    created = await _create(client, creds, events=events, description="billing alerts")
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body.pop("secret")
    assert secret.startswith("whsec_")
    assert body["events"] == ["credits.low", "credits.depleted"]  # each type once
    assert (body["url"], body["description"], body["previous_secret_until"]) == (
        RECEIVER,
        "billing alerts",
        None,
    )
    listed = await client.get(ENDPOINTS, headers=creds.admin())
    assert listed.json() == {"data": [body]}
    stored = await _stored(database, body["id"])
    assert decrypt(settings, stored.secret_encrypted) == secret
    assert await occurrences(database, secret.removeprefix("whsec_")) == []
    assert await _actions(database, f"webhook_endpoint:{body['id']}") == [
        "webhook_endpoint.created"
    ]


async def test_rotation_gives_a_new_secret_and_keeps_the_old_one_for_a_day(
    client: httpx.AsyncClient, creds: Credentials, database: Database, settings: Settings
) -> None:
    created = (await _create(client, creds)).json()
    rotated = await client.post(f"{ENDPOINTS}/{created['id']}/rotate-secret", headers=creds.admin())
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] not in (created["secret"], None)
    until = datetime.fromisoformat(rotated.json()["previous_secret_until"])
    assert abs(until - (utcnow() + timedelta(hours=24))) < timedelta(minutes=1)
    stored = await _stored(database, created["id"])
    assert decrypt(settings, stored.secret_encrypted) == rotated.json()["secret"]
    assert stored.previous_secret_encrypted is not None
    assert decrypt(settings, stored.previous_secret_encrypted) == created["secret"]
    assert await _actions(database, f"webhook_endpoint:{created['id']}") == [
        "webhook_endpoint.created",
        "webhook_endpoint.secret_rotated",
    ]


async def test_a_deleted_endpoint_is_gone_from_the_api_and_kept_in_the_log(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    kept, gone = [(await _create(client, creds)).json()["id"] for _ in range(2)]
    deleted = await client.delete(f"{ENDPOINTS}/{gone}", headers=creds.admin())
    assert deleted.status_code == 204, deleted.text
    listed = (await client.get(ENDPOINTS, headers=creds.admin())).json()["data"]
    assert [endpoint["id"] for endpoint in listed] == [kept]
    for again in (
        await client.delete(f"{ENDPOINTS}/{gone}", headers=creds.admin()),
        await client.post(f"{ENDPOINTS}/{gone}/rotate-secret", headers=creds.admin()),
    ):
        assert_problem(again, 404, "not_found")
    assert (await _stored(database, gone)).deleted_at is not None
    assert await _actions(database, f"webhook_endpoint:{gone}") == [
        "webhook_endpoint.created",
        "webhook_endpoint.deleted",
    ]


async def test_bad_subscriptions_and_urls_are_422(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    for body, why in (
        ({"events": ["credits.low", "*"]}, '"*" stands alone'),
        ({"events": ["credits.lowish"]}, "unknown type 'credits.lowish'"),
        ({"url": "ftp://127.0.0.1/hook"}, "must start with"),
        ({"url": "http://receiver.invalid/hook"}, "does not resolve"),
    ):
        refused = await _create(client, creds, **body)
        assert why in assert_problem(refused, 422, "validation_error")["detail"]
    for body in ({"events": []}, {"url": ""}, {"secret": "mine"}):
        assert_problem(await _create(client, creds, **body), 422, "validation_error")
    listed = await client.get(ENDPOINTS, headers=creds.admin())
    assert listed.json() == {"data": []}


async def test_only_an_admin_manages_endpoints(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    service, user = await creds.api_key("service"), creds.bearer(7)
    for headers in (service, user):
        refused = await client.post(
            ENDPOINTS, json={"url": RECEIVER, "events": ["*"]}, headers=headers
        )
        assert_problem(refused, 403, "forbidden")
        assert_problem(await client.get(ENDPOINTS, headers=headers), 403, "forbidden")
    assert_problem(await client.get(ENDPOINTS), 401, "unauthenticated")
