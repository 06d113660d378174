"""Admins find a user by id, email (through its keyed hash) or Stripe customer, and see who
they are; a user's credits spent and granted per day."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from billing.core.config import Settings
from billing.core.times import utcnow
from billing.db.engine import Database
from tests.compliance.privacy import customer_with_contact, stored_row
from tests.conftest import Credentials
from tests.support.credits import add, assert_problem, hold, spend

USERS = "/api/admin/users"


async def found(client: httpx.AsyncClient, creds: Credentials, query: str) -> list[int]:
    response = await client.get(USERS, params={"query": query}, headers=creds.admin())
    assert response.status_code == 200, response.text
    return [user["user_id"] for user in response.json()["data"]]


@pytest.fixture
async def ada(
    database: Database, settings: Settings, client: httpx.AsyncClient, creds: Credentials
) -> int:
    """User 41: a customer with an email and 500 credits."""
    await customer_with_contact(database, settings, 41, "Ada@Example.com", "Ada Lovelace")
    assert (await add(client, creds.admin(), 41, 500)).status_code == 200
    return 41


@pytest.mark.parametrize("query", ["41", "ada@example.com", "  ADA@example.COM ", "cus_test41"])
async def test_a_user_is_found_by_id_email_or_customer(
    client: httpx.AsyncClient, creds: Credentials, ada: int, query: str
) -> None:
    response = await client.get(USERS, params={"query": query}, headers=creds.admin())
    assert response.json()["data"] == [
        {
            "user_id": 41,
            "email": "Ada@Example.com",
            "name": "Ada Lovelace",
            "stripe_customer_id": "cus_test41",
            "balance": 500,
        }
    ]


async def test_the_email_is_stored_only_as_a_keyed_hash_beside_its_token(
    database: Database, ada: int
) -> None:
    row = await stored_row(database, ada)
    assert row.email_lookup is not None
    assert len(row.email_lookup) == 64
    stored = (row.email_lookup + (row.email_encrypted or "")).lower()
    assert "ada@example.com" not in stored  # not "ada": hex and base64 hold it by chance
    assert "example.com" not in stored


@pytest.mark.parametrize("query", ["42", "bob@example.com", "cus_nobody"])
async def test_nobody_is_found_for_what_names_no_user(
    client: httpx.AsyncClient, creds: Credentials, ada: int, query: str
) -> None:
    assert await found(client, creds, query) == []


@pytest.mark.parametrize("params", [{}, {"query": ""}, {"query": "ada"}, {"query": "a\x00@b"}])
async def test_a_query_that_is_no_id_email_or_customer_is_refused(
    client: httpx.AsyncClient, creds: Credentials, params: dict[str, Any]
) -> None:
    response = await client.get(USERS, params=params, headers=creds.admin())
    assert_problem(response, 422, "validation_error")


async def test_only_admins_look_users_up(client: httpx.AsyncClient, creds: Credentials) -> None:
    assert (
        await client.get(USERS, params={"query": "41"}, headers=creds.bearer(41))
    ).status_code == 403
    assert (await client.get(f"{USERS}/41", headers=creds.bearer(41))).status_code == 403


async def test_a_profile_shows_who_and_what_the_wallet_holds(
    client: httpx.AsyncClient, creds: Credentials, ada: int
) -> None:
    assert (await hold(client, creds.bearer(ada), ada, 120)).status_code == 201
    body = (await client.get(f"{USERS}/{ada}", headers=creds.admin())).json()
    assert {k: body[k] for k in ("email", "name", "stripe_customer_id", "balance", "held")} == {
        "email": "Ada@Example.com",
        "name": "Ada Lovelace",
        "stripe_customer_id": "cus_test41",
        "balance": 380,
        "held": 120,
    }
    assert body["personal_data_erased"] is False


async def test_an_unknown_user_has_no_profile(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    assert_problem(await client.get(f"{USERS}/999", headers=creds.admin()), 404, "not_found")


async def test_usage_counts_spends_and_grants_per_day(
    client: httpx.AsyncClient, creds: Credentials, ada: int
) -> None:
    assert (await spend(client, creds.bearer(ada), ada, 70)).status_code == 200
    assert (await spend(client, creds.bearer(ada), ada, 30)).status_code == 200
    today = utcnow().date().isoformat()
    response = await client.get(
        f"/api/financial/credits/{ada}/usage",
        params={"from": "2026-01-01", "to": today},
        headers=creds.bearer(ada),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["range"] == {"from": "2026-01-01", "to": today}
    assert body["days"][0] == {"day": "2026-01-01", "spent": 0, "granted": 0}
    assert body["days"][-1] == {"day": today, "spent": 100, "granted": 500}
    assert sum(day["spent"] for day in body["days"]) == 100


async def test_usage_is_the_users_own_or_an_admins(
    client: httpx.AsyncClient, creds: Credentials, ada: int
) -> None:
    usage = f"/api/financial/credits/{ada}/usage"
    assert (await client.get(usage, headers=creds.bearer(ada + 1))).status_code == 403
    reply = await client.get(
        usage, params={"from": "2026-02-01", "to": "2026-01-01"}, headers=creds.admin()
    )
    assert_problem(reply, 422, "validation_error")
    assert len((await client.get(usage, headers=creds.admin())).json()["days"]) == 30
