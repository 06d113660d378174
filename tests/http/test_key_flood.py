"""A flood of made-up API keys from one client: each unverified key counts against the
client's own bucket (not a fresh one of its own), and a key that failed is refused from
memory for a while, so the flood ends in 429s, never 503 or 500, and never drains the
database pool; other clients' spends keep succeeding meanwhile."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from billing.core.config import Settings
from billing.core.ids import API_KEY_PREFIX
from billing.db.engine import Database
from billing.http.app import create_app
from tests.conftest import Credentials
from tests.support.credits import CREDITS, add
from tests.support.worker import ONLY_POSTGRES

FLOOD, WAVE, USER = 1000, 100, 17


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    # A pool far smaller than the flood, and a per-client limit well under it.
    limited = settings.model_copy(
        update={"BILLING_RATE_LIMIT": "100/second;2000/minute", "DATABASE_POOL_SIZE": 5}
    )
    app = create_app(limited)
    yield app
    await app.state.database.dispose()


def client_at(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://billing.test")


def made_up_key() -> dict[str, str]:
    return {"X-API-Key": API_KEY_PREFIX + secrets.token_urlsafe(32)}


@ONLY_POSTGRES
async def test_a_flood_of_made_up_keys_ends_in_429s_and_spares_other_clients(
    app: FastAPI, client: httpx.AsyncClient, creds: Credentials
) -> None:
    assert (await add(client, creds.admin(), USER, 10_000)).status_code == 200
    spend = f"{CREDITS}/{USER}/spend"
    async with client_at(app, "198.51.100.7") as attacker, client_at(app, "198.51.100.8") as ok:

        async def flood() -> Counter[int]:
            seen: Counter[int] = Counter()
            for _ in range(FLOOD // WAVE):
                wave = [
                    attacker.get(f"{CREDITS}/{USER}", headers=made_up_key()) for _ in range(WAVE)
                ]
                seen.update(r.status_code for r in await asyncio.gather(*wave))
            return seen

        async def spends() -> list[int]:
            statuses = []
            for _ in range(20):
                response = await ok.post(spend, json={"amount": 1}, headers=creds.bearer(USER))
                statuses.append(response.status_code)
            return statuses

        flooded, spent = await asyncio.gather(flood(), spends())
    assert set(flooded) <= {401, 429}, flooded
    assert flooded[429] >= FLOOD // 2, flooded  # most of it never reaches a key lookup
    assert spent == [200] * 20


async def test_a_key_that_failed_is_refused_without_a_lookup(
    client: httpx.AsyncClient, database: Database
) -> None:
    lookups: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "api_keys" in statement:
            lookups.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", note)
    try:
        key = made_up_key()
        for _ in range(3):
            assert (await client.get(f"{CREDITS}/{USER}", headers=key)).status_code == 401
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", note)
    assert len(lookups) == 1
