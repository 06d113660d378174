"""Small HTTP helpers shared by the credit tests."""

from __future__ import annotations

from typing import Any

import httpx

CREDITS = "/api/financial/credits"


async def add(
    client: httpx.AsyncClient, headers: dict[str, str], user_id: int, amount: int, **body: Any
) -> httpx.Response:
    return await client.post(
        f"{CREDITS}/{user_id}/add",
        json={"amount": amount, "reason": body.pop("reason", "test grant"), **body},
        headers=headers,
    )


async def spend(
    client: httpx.AsyncClient, headers: dict[str, str], user_id: int, amount: int, **body: Any
) -> httpx.Response:
    return await client.post(
        f"{CREDITS}/{user_id}/spend", json={"amount": amount, **body}, headers=headers
    )


async def balance(client: httpx.AsyncClient, headers: dict[str, str], user_id: int) -> int:
    response = await client.get(f"{CREDITS}/{user_id}", headers=headers)
    assert response.status_code == 200, response.text
    value: int = response.json()["balance"]
    return value


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["type"]
    return body
