"""The admin's view of the inbox: listing by status, paging, and replaying one event."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.accounts import PURCHASE
from billing.credits.balances import balance
from billing.credits.service import post_within
from billing.credits.transfers import Transfer
from billing.db.engine import Database
from billing.webhooks import inbox
from billing.webhooks.models import WebhookEvent
from billing.webhooks.processing import process_due
from tests.conftest import Credentials
from tests.support.credits import assert_problem
from tests.support.stripe_events import FILING, stripe_event

URL = "/api/admin/webhooks"


async def fail(session: AsyncSession, event: WebhookEvent) -> None:
    raise RuntimeError("not yet")


async def grant(session: AsyncSession, event: WebhookEvent) -> None:
    key = f"test:{event.stripe_event_id}"
    await post_within(session, Transfer(PURCHASE, 9, 25, actor="stripe", idempotency_key=key))


async def receive(database: Database, event_type: str) -> str:
    event = inbox.parse_event(stripe_event(event_type), FILING)
    async with database.sessions() as session:
        await inbox.receive(session, event)
    return event.id


@pytest.fixture
async def inbox_events(database: Database) -> dict[str, str]:
    """Three processed-as-ignored events, then one that failed."""
    ids = {f"ignored{i}": await receive(database, "customer.updated") for i in range(3)}
    await process_due(database, {}, limit=10)
    ids["failed"] = await receive(database, "test.grant")
    await process_due(database, {"test.grant": fail}, limit=10)
    return ids


async def test_admins_list_the_inbox_newest_first_by_status(
    client: httpx.AsyncClient, creds: Credentials, inbox_events: dict[str, str]
) -> None:
    everything = await client.get(URL, headers=creds.admin())
    assert everything.status_code == 200
    assert [e["id"] for e in everything.json()["data"]] == list(reversed(inbox_events.values()))
    failed = (await client.get(URL, params={"status": "failed"}, headers=creds.admin())).json()
    [event] = failed["data"]
    assert event["id"] == inbox_events["failed"]
    assert event["attempts"] == 1
    assert event["last_error"] == "RuntimeError: not yet"

    first = (await client.get(URL, params={"limit": 2}, headers=creds.admin())).json()
    assert first["has_more"] is True
    rest = await client.get(
        URL, params={"limit": 2, "cursor": first["next_cursor"]}, headers=creds.admin()
    )
    paged = [e["id"] for e in first["data"] + rest.json()["data"]]
    assert paged == list(reversed(inbox_events.values()))
    assert rest.json()["has_more"] is False


async def test_replay_queues_the_event_again_and_its_effect_stays_single(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    event_id = await receive(database, "test.grant")
    await process_due(database, {"test.grant": grant}, limit=10)
    for _ in range(2):
        replayed = await client.post(f"{URL}/{event_id}/replay", headers=creds.admin())
        assert replayed.status_code == 200
        assert replayed.json()["status"] == "pending"
        assert replayed.json()["attempts"] == 0
        assert await process_due(database, {"test.grant": grant}, limit=10) == 1
    async with database.sessions() as session:
        assert (await balance(session, 9)).balance == 25


async def test_replaying_an_unknown_event_is_not_found(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    response = await client.post(f"{URL}/evt_missing/replay", headers=creds.admin())
    assert_problem(response, 404, "not_found")


async def test_an_unknown_status_is_a_validation_error(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    response = await client.get(URL, params={"status": "lost"}, headers=creds.admin())
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("who", ["nobody", "user", "service"])
async def test_only_admins_see_or_replay_the_inbox(
    client: httpx.AsyncClient, creds: Credentials, who: str
) -> None:
    headers = {
        "nobody": {},
        "user": creds.bearer(9),
        "service": await creds.api_key("service"),
    }[who]
    status, code = (401, "unauthenticated") if who == "nobody" else (403, "forbidden")
    assert_problem(await client.get(URL, headers=headers), status, code)
    replay = await client.post(f"{URL}/evt_x/replay", headers=headers)
    assert_problem(replay, status, code)


async def test_an_event_shows_its_payload_with_personal_values_masked(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    customer = {
        "id": "cus_masked",
        "object": "customer",
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "address": {"city": "London", "country": "GB"},
        "phone": None,
        "metadata": {"billing_user_id": "7"},
        "balance": 0,
    }
    event = inbox.parse_event(stripe_event("customer.updated", data={"object": customer}), FILING)
    async with database.sessions() as session:
        await inbox.receive(session, event)

    reply = await client.get(f"{URL}/{event.id}", headers=creds.admin())

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["id"], body["type"], body["status"]) == (event.id, "customer.updated", "pending")
    shown = body["payload"]["data"]["object"]
    assert {k: shown[k] for k in ("email", "name", "address")} == dict.fromkeys(
        ("email", "name", "address"), "[personal data]"
    )
    assert (shown["id"], shown["metadata"], shown["phone"]) == (
        "cus_masked",
        {"billing_user_id": "7"},
        None,  # nothing to mask
    )
    assert "lovelace" not in reply.text.lower()
    assert "example.com" not in reply.text


async def test_an_unknown_event_has_no_detail_and_only_admins_see_one(
    client: httpx.AsyncClient, creds: Credentials, inbox_events: dict[str, str]
) -> None:
    assert_problem(await client.get(f"{URL}/evt_nope", headers=creds.admin()), 404, "not_found")
    mine = f"{URL}/{inbox_events['failed']}"
    assert (await client.get(mine, headers=creds.bearer(9))).status_code == 403
    detail = (await client.get(mine, headers=creds.admin())).json()
    assert (detail["attempts"], detail["last_error"]) == (1, "RuntimeError: not yet")
