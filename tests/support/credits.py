"""Small HTTP helpers shared by the credit tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from billing.core.times import utcnow
from billing.credits.verify import verify_ledger
from billing.db.engine import Database

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


async def hold(
    client: httpx.AsyncClient, headers: dict[str, str], user_id: int, amount: int, **body: Any
) -> httpx.Response:
    return await client.post(
        f"{CREDITS}/{user_id}/holds", json={"amount": amount, **body}, headers=headers
    )


async def settle(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    user_id: int,
    hold_id: int,
    action: str,
    **body: Any,
) -> httpx.Response:
    """`action` is `capture` or `release`."""
    return await client.post(
        f"{CREDITS}/{user_id}/holds/{hold_id}/{action}", json=body, headers=headers
    )


def days_ahead(days: float) -> str:
    return (utcnow() + timedelta(days=days)).isoformat()


async def grants(
    client: httpx.AsyncClient, headers: dict[str, str], user_id: int, status: str | None = None
) -> list[dict[str, Any]]:
    """The user's grants, in consumption order."""
    query = f"?status={status}" if status else ""
    response = await client.get(f"{CREDITS}/{user_id}/grants{query}", headers=headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


async def assert_ledger_sound(database: Database) -> None:
    async with database.sessions() as session, session.begin():
        report = await verify_ledger(session)
    assert report.ok, report.failures
