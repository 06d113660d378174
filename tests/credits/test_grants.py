"""Grants over HTTP: opened by every credit, consumed in order, expiring, voided."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from billing.core.times import Clock
from billing.credits.jobs import expire_due
from billing.db.engine import Database
from tests.conftest import Credentials
from tests.support.credits import (
    CREDITS,
    add,
    assert_problem,
    balance,
    days_ahead,
    grants,
    spend,
)


async def test_add_returns_the_grant_it_opened(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    response = await add(
        client, creds.admin(), 7, 100, expires_at=days_ahead(30), priority=5, source="promotion"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["balance"] == 100
    grant = body["grant"]
    assert grant["amount"] == grant["remaining"] == 100
    assert (grant["priority"], grant["source"], grant["status"]) == (5, "promotion", "active")
    assert await grants(client, creds.admin(), 7) == [grant]


async def test_debits_take_from_grants_in_consumption_order(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    admin = creds.admin()
    never = (await add(client, admin, 7, 100)).json()["grant"]["id"]
    later = (await add(client, admin, 7, 100, expires_at=days_ahead(20))).json()["grant"]["id"]
    sooner = (await add(client, admin, 7, 100, expires_at=days_ahead(10))).json()["grant"]["id"]
    promo = (await add(client, admin, 7, 30, source="promotion")).json()["grant"]["id"]
    assert (await spend(client, admin, 7, 150)).status_code == 200
    remaining = {g["id"]: g["remaining"] for g in await grants(client, admin, 7)}
    assert remaining == {promo: 0, sooner: 0, later: 80, never: 100}
    order = [g["id"] for g in await grants(client, admin, 7)]
    assert order == [promo, sooner, later, never]


async def test_a_lapsed_grant_is_neither_spendable_nor_counted_then_swept(
    client: httpx.AsyncClient, creds: Credentials, database: Database, clock: Clock
) -> None:
    admin = creds.admin()
    await add(client, admin, 7, 100, expires_at=days_ahead(1))
    await add(client, admin, 7, 50)
    response = await client.get(f"{CREDITS}/7", headers=admin)
    assert response.json()["expiring"] == [
        {"amount": 100, "expires_at": response.json()["expiring"][0]["expires_at"]}
    ]
    clock.offset = timedelta(days=2)
    assert await balance(client, admin, 7) == 50
    assert_problem(await spend(client, admin, 7, 51), 402, "insufficient_credits")
    assert [g["status"] for g in await grants(client, admin, 7)] == ["expired", "active"]
    assert await expire_due(database) == 1
    assert await expire_due(database) == 0
    assert await balance(client, admin, 7) == 50
    history = (await client.get(f"{CREDITS}/7/transactions", headers=admin)).json()["data"]
    assert (history[0]["kind"], history[0]["amount"]) == ("expiry", -100)


async def test_void_removes_what_remains_once(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    admin = creds.admin()
    grant = (await add(client, admin, 7, 100)).json()["grant"]["id"]
    await spend(client, admin, 7, 30)
    url = f"{CREDITS}/7/grants/{grant}/void"
    voided = await client.post(url, json={"reason": "mistake"}, headers=admin)
    assert voided.status_code == 200, voided.text
    assert voided.json()["balance"] == 0
    assert voided.json()["grant"]["status"] == "voided"
    again = await client.post(url, json={"reason": "mistake"}, headers=admin)
    assert_problem(again, 409, "conflict")
    missing = await client.post(
        f"{CREDITS}/7/grants/999999/void", json={"reason": "x"}, headers=admin
    )
    assert_problem(missing, 404, "not_found")


async def test_expires_at_in_the_past_is_refused(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    past = datetime(2020, 1, 1, tzinfo=UTC).isoformat()
    assert_problem(
        await add(client, creds.admin(), 7, 10, expires_at=past), 422, "validation_error"
    )
    assert_problem(await add(client, creds.admin(), 7, 10, priority=101), 422, "validation_error")


async def test_every_answer_leaves_out_a_lapsed_grant_before_the_sweep(
    client: httpx.AsyncClient, creds: Credentials, clock: Clock
) -> None:
    admin = creds.admin()
    await add(client, admin, 7, 100, expires_at=days_ahead(1))
    await add(client, admin, 7, 50)
    extra = (await add(client, admin, 7, 10)).json()["grant"]["id"]
    clock.offset = timedelta(days=2)
    assert (await spend(client, admin, 7, 5)).json()["balance"] == 55
    added = await add(client, admin, 7, 20)
    assert added.json()["balance"] == 75
    voided = await client.post(
        f"{CREDITS}/7/grants/{extra}/void", json={"reason": "x"}, headers=admin
    )
    assert voided.json()["balance"] == 65
    held = await client.post(f"{CREDITS}/7/holds", json={"amount": 15}, headers=admin)
    assert held.json()["balance"] == 50
    captured = await client.post(
        f"{CREDITS}/7/holds/{held.json()['id']}/capture", json={"amount": 5}, headers=admin
    )
    assert captured.json()["balance"] == 60
    usage = await client.post(
        "/api/financial/usage",
        json={"events": [{"user_id": 7, "amount": 10, "idempotency_key": "u-1"}]},
        headers=admin,
    )
    assert usage.json()["results"][0]["balance"] == 50
    assert await balance(client, admin, 7) == 50
