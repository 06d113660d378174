"""Concurrent spends against a real server process: the ledger serializes on the wallet row."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from billing.core.config import Settings
from tests.conftest import Credentials
from tests.support.credits import CREDITS
from tests.support.server import running_server


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    workers = 1 if settings.is_sqlite else 2
    env = {
        "DATABASE_URL": settings.DATABASE_URL,
        "BILLING_DATA_DIR": str(settings.BILLING_DATA_DIR),
        "BILLING_ENV": "development",
    }
    with running_server(env, workers=workers) as base_url:
        yield base_url


async def test_fifty_concurrent_spends_of_ten_against_one_hundred(
    server: str, creds: Credentials
) -> None:
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=server, limits=limits, timeout=30) as http:
        granted = await http.post(
            f"{CREDITS}/77/add", json={"amount": 100, "reason": "load"}, headers=creds.admin()
        )
        assert granted.status_code == 200, granted.text
        user = creds.bearer(77)
        responses = await asyncio.gather(
            *(
                http.post(f"{CREDITS}/77/spend", json={"amount": 10}, headers=user)
                for _ in range(50)
            )
        )
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) == 10
        assert statuses.count(402) == 40
        assert {r.json()["code"] for r in responses if r.status_code == 402} == {
            "insufficient_credits"
        }
        assert sorted(r.json()["balance"] for r in responses if r.status_code == 200) == list(
            range(0, 100, 10)
        )
        final = await http.get(f"{CREDITS}/77", headers=user)
        assert final.json()["balance"] == 0
        history = await http.get(f"{CREDITS}/77/transactions", params={"limit": 100}, headers=user)
        assert len(history.json()["data"]) == 11


async def test_twenty_concurrent_requests_with_one_key_have_one_effect(
    server: str, creds: Credentials
) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        await http.post(
            f"{CREDITS}/78/add", json={"amount": 1000, "reason": "load"}, headers=creds.admin()
        )
        headers = {**creds.bearer(78), "Idempotency-Key": "one-effect"}
        url = f"{CREDITS}/78/spend"
        responses = await asyncio.gather(
            *(http.post(url, json={"amount": 25}, headers=headers) for _ in range(20))
        )
        successes = [r for r in responses if r.status_code == 200]
        assert successes
        assert len({r.json()["transaction_id"] for r in successes}) == 1
        assert all(
            r.json()["code"] == "idempotency_in_progress" for r in responses if r.status_code != 200
        )
        final = await http.get(f"{CREDITS}/78", headers=creds.bearer(78))
        assert final.json()["balance"] == 975
        replay = await http.post(url, json={"amount": 25}, headers=headers)
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json() == successes[0].json()


async def test_concurrent_usage_batches_post_exactly_what_the_wallet_holds(
    server: str, creds: Credentials
) -> None:
    """8 batches of 5 debits of 10 at once against 100 credits: exactly 10 post."""
    service = await creds.api_key("service")
    limits = httpx.Limits(max_connections=8)
    async with httpx.AsyncClient(base_url=server, limits=limits, timeout=60) as http:
        granted = await http.post(
            f"{CREDITS}/78/add", json={"amount": 100, "reason": "load"}, headers=creds.admin()
        )
        assert granted.status_code == 200, granted.text
        batches = [
            [{"user_id": 78, "amount": 10, "idempotency_key": f"b{b}-e{e}"} for e in range(5)]
            for b in range(8)
        ]
        responses = await asyncio.gather(
            *(
                http.post("/api/financial/usage", json={"events": batch}, headers=service)
                for batch in batches
            )
        )
        assert [r.status_code for r in responses] == [200] * 8
        statuses = [e["status"] for r in responses for e in r.json()["results"]]
        assert statuses.count("posted") == 10
        assert statuses.count("insufficient_credits") == 30
        final = await http.get(f"{CREDITS}/78", headers=creds.admin())
        assert final.json()["balance"] == 0
