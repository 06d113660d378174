"""The credit routes' happy paths, through the ASGI app on each database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import Credentials
from tests.support.credits import CREDITS, add, assert_problem, balance, spend


async def test_a_new_user_has_a_zero_balance(client: httpx.AsyncClient, creds: Credentials) -> None:
    response = await client.get(f"{CREDITS}/42", headers=creds.bearer(42))
    assert response.status_code == 200
    assert response.json() == {
        "user_id": 42,
        "balance": 0,
        "held": 0,
        "expiring": [],
        "currency": "credits",
        "updated_at": None,
    }


async def test_add_then_spend_moves_the_balance(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    added = await add(client, creds.admin(), 7, 100, reason="welcome")
    assert added.status_code == 200, added.text
    assert added.json()["balance"] == 100
    assert added.json()["amount"] == 100

    spent = await spend(client, creds.bearer(7), 7, 30, description="export", metadata={"job": "1"})
    assert spent.status_code == 200, spent.text
    body = spent.json()
    assert body["user_id"] == 7
    assert body["amount"] == 30
    assert body["balance"] == 70
    assert body["transaction_id"] != added.json()["transaction_id"]
    datetime.fromisoformat(body["created_at"])

    current = await client.get(f"{CREDITS}/7", headers=creds.bearer(7))
    assert current.json()["balance"] == 70
    assert current.json()["updated_at"] is not None


async def test_spending_more_than_the_balance_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    await add(client, creds.admin(), 5, 10)
    problem = assert_problem(
        await spend(client, creds.bearer(5), 5, 11), 402, "insufficient_credits"
    )
    assert problem["balance"] == 10
    assert problem["required"] == 11
    assert await balance(client, creds.bearer(5), 5) == 10
    history = await client.get(f"{CREDITS}/5/transactions", headers=creds.bearer(5))
    assert len(history.json()["data"]) == 1


async def test_spending_from_a_user_without_a_wallet_is_insufficient(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    problem = assert_problem(
        await spend(client, creds.bearer(9), 9, 1), 402, "insufficient_credits"
    )
    assert problem["balance"] == 0
    assert problem["required"] == 1


async def test_history_is_newest_first_and_pages_by_cursor(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    await add(
        client,
        creds.admin(),
        3,
        1000,
        expires_at=(datetime.now(UTC) + timedelta(days=30)).isoformat(),
    )
    for amount in range(1, 8):
        assert (await spend(client, creds.bearer(3), 3, amount)).status_code == 200

    seen: list[dict[str, object]] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = await client.get(f"{CREDITS}/3/transactions", params=params, headers=creds.bearer(3))
        assert page.status_code == 200, page.text
        body = page.json()
        seen.extend(body["data"])
        assert body["has_more"] == (body["next_cursor"] is not None)
        if not body["has_more"]:
            break
        cursor = body["next_cursor"]

    assert [item["amount"] for item in seen] == [-7, -6, -5, -4, -3, -2, -1, 1000]
    assert [item["kind"] for item in seen] == ["spend"] * 7 + ["admin_grant"]
    ids = [item["id"] for item in seen]
    assert ids == sorted(ids, reverse=True)
    assert seen[0]["balance_after"] == 1000 - sum(range(1, 8))
    assert seen[-1]["expires_at"] is not None


async def test_a_cursor_not_issued_by_the_api_is_a_validation_error(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    await add(client, creds.admin(), 3, 10)
    for cursor in ("garbage", "dDEy!", "eHl6"):
        response = await client.get(
            f"{CREDITS}/3/transactions", params={"cursor": cursor}, headers=creds.bearer(3)
        )
        assert_problem(response, 422, "validation_error")


async def test_balance_cannot_exceed_the_largest_exact_integer(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    top = 2**53 - 1
    assert (await add(client, creds.admin(), 4, top)).status_code == 200
    assert_problem(await add(client, creds.admin(), 4, 1), 409, "conflict")
    assert await balance(client, creds.admin(), 4) == top


async def test_text_with_nul_characters_is_refused_on_every_database(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    await add(client, creds.admin(), 3, 10)
    for body in ({"description": "a\x00b"}, {"metadata": {"k": "a\x00b"}}):
        assert_problem(await spend(client, creds.bearer(3), 3, 1, **body), 422, "validation_error")
    assert_problem(await add(client, creds.admin(), 3, 1, reason="x\x00"), 422, "validation_error")
    assert await balance(client, creds.admin(), 3) == 10
