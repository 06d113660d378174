"""Concurrent spends against a real server process: the ledger serializes on the wallet row."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from billing.core.config import Settings
from tests.conftest import Credentials
from tests.support.credits import CREDITS, days_ahead, grants, hold, settle
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


async def test_fifty_concurrent_holds_then_racing_settlements_on_one_wallet(
    server: str, creds: Credentials
) -> None:
    """600 credits in three grants: 50 holds of 20 at once place exactly 30; then two
    settlements race for each hold and exactly one of them settles it."""
    admin, user = creds.admin(), creds.bearer(79)
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=server, limits=limits, timeout=60) as http:
        for grant in (
            {"amount": 100, "source": "promotion"},
            {"amount": 200, "expires_at": days_ahead(30)},
            {"amount": 300},
        ):
            added = await http.post(
                f"{CREDITS}/79/add", json={**grant, "reason": "load"}, headers=admin
            )
            assert added.status_code == 200, added.text
        placed = await asyncio.gather(*(hold(http, user, 79, 20) for _ in range(50)))
        assert sorted(r.status_code for r in placed) == [201] * 30 + [402] * 20
        assert sorted(r.json()["balance"] for r in placed if r.status_code == 201) == list(
            range(0, 600, 20)
        )
        ids = [r.json()["id"] for r in placed if r.status_code == 201]
        racing = [
            (hold_id, action)
            for n, hold_id in enumerate(ids)
            for action in ("capture", "capture" if n % 2 else "release")
        ]
        settled = await asyncio.gather(
            *(
                settle(
                    http,
                    user,
                    79,
                    hold_id,
                    action,
                    **({"amount": 5} if action == "capture" else {}),
                )
                for hold_id, action in racing
            )
        )
        outcomes: dict[int, list[int]] = {hold_id: [] for hold_id in ids}
        for (hold_id, _), response in zip(racing, settled, strict=True):
            outcomes[hold_id].append(response.status_code)
            if response.status_code == 409:
                assert response.json()["code"] == "hold_not_active"
        assert all(sorted(codes) == [200, 409] for codes in outcomes.values())
        captured = sum(r.json()["hold"]["captured"] for r in settled if r.status_code == 200)
        final = (await http.get(f"{CREDITS}/79", headers=user)).json()
        assert (final["balance"], final["held"]) == (600 - captured, 0)
        found = await grants(http, admin, 79)
        assert sum(g["remaining"] for g in found) == 600 - captured
        assert all(g["status"] == "active" and 0 < g["remaining"] <= g["amount"] for g in found)
        listed = await http.get(f"{CREDITS}/79/holds", headers=user)
        assert listed.json()["data"] == []
