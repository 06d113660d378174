"""Concurrent debits: the ledger serializes on the wallet row.

Against a real server process; and, where grants lapse by the test's clock, against an
app in this process on PostgreSQL, its requests in flight at once on the pool's
connections.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from billing.core.config import Settings
from billing.core.times import Clock, utcnow
from billing.credits.jobs import expire_due
from billing.credits.single_statement import SPENDS
from billing.db.engine import Database
from tests.conftest import Credentials, app_database, asgi_client
from tests.support.credits import (
    CREDITS,
    add,
    assert_ledger_sound,
    days_ahead,
    grants,
    hold,
    settle,
)
from tests.support.pgbouncer import settings_for
from tests.support.server import running_server
from tests.support.worker import worker_env

# Money paths: on PostgreSQL, also through PgBouncer in transaction pooling.
pytestmark = pytest.mark.pgbouncer

USAGE = "/api/financial/usage"
AT_ONCE = 60.0  # seconds: far beyond what the requests need, unless they deadlock


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    workers = 1 if settings.is_sqlite else 2
    env = worker_env(settings.DATABASE_URL, settings.BILLING_DATA_DIR)
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
        unexpected = [r.text for r in settled if r.status_code not in (200, 409)]
        assert all(sorted(codes) == [200, 409] for codes in outcomes.values()), unexpected
        captured = sum(r.json()["hold"]["captured"] for r in settled if r.status_code == 200)
        final = (await http.get(f"{CREDITS}/79", headers=user)).json()
        assert (final["balance"], final["held"]) == (600 - captured, 0)
        found = await grants(http, admin, 79)
        assert sum(g["remaining"] for g in found) == 600 - captured
        assert all(g["status"] == "active" and 0 < g["remaining"] <= g["amount"] for g in found)
        listed = await http.get(f"{CREDITS}/79/holds", headers=user)
        assert listed.json()["data"] == []


@pytest.fixture
def pg_settings(pg: Database, tmp_path: Path) -> Settings:
    url = pg.engine.url.render_as_string(hide_password=False)
    return settings_for(url, BILLING_DATA_DIR=tmp_path)


@pytest.fixture
async def pg_client(pg_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app in this process on the emptied PostgreSQL: its clock is the test's."""
    async with asgi_client(pg_settings) as http:
        yield http
        assert SPENDS.idle(app_database(http)), "a spend was left in flight or queued"


@pytest.fixture
async def pg_callers(pg_settings: Settings, pg_client: httpx.AsyncClient) -> dict[str, Any]:
    """API keys (which the clock does not age) of an admin and a platform backend."""
    credentials = Credentials(pg_settings, app_database(pg_client))
    return {role: await credentials.api_key(role) for role in ("admin", "service")}


async def _open(
    client: httpx.AsyncClient, admin: dict[str, str], user: int, terms: list[tuple[Any, ...]]
) -> list[int]:
    """Grants of (amount, priority, hours until expiry or None), in this order: their ids."""
    opened = []
    for amount, priority, hours in terms:
        body: dict[str, Any] = {"priority": priority}
        if hours is not None:
            body["expires_at"] = (utcnow() + timedelta(hours=hours)).isoformat()
        response = await add(client, admin, user, amount, **body)
        assert response.status_code == 200, response.text
        opened.append(response.json()["grant"]["id"])
    return opened


async def _at_once(*requests: Any) -> list[Any]:
    async with asyncio.timeout(AT_ONCE):
        return await asyncio.gather(*requests)


# (amount, priority, hours until expiry): the first lapses before the debits; the others
# hold 245, which debits of 10 take in this order, leaving 5 in the last.
WALLET = [(60, 0, 1), (30, 10, 240), (50, 50, 120), (25, 50, 120), (40, 50, None), (100, 100, None)]
LEFT = [0, 0, 0, 0, 0, 5]  # what each grant shows afterwards (the lapsed one: nothing)
DEBIT = 10


def _posted_keys(outcomes: list[tuple[str, int, int | None]]) -> int:
    """How many keys posted, from (key, status or code, transaction id) of every attempt:
    each key posts once at most, and its other attempts replay it or were refused alike."""
    by_key: dict[str, set[tuple[int, int | None]]] = defaultdict(set)
    for key, status, transaction in outcomes:
        by_key[key].add((status, transaction))
    posted = 0
    for key, seen in by_key.items():
        transactions = {transaction for _, transaction in seen if transaction is not None}
        assert len(transactions) <= 1, f"{key} posted more than once: {seen}"
        posted += len(transactions)
    return posted


async def test_concurrent_debits_take_what_spendable_grants_hold_in_order(
    pg_client: httpx.AsyncClient, pg_callers: dict[str, Any], clock: Clock
) -> None:
    """50 requests at once: 30 spends, 10 keyed spends (5 keys, each sent twice) and 10
    usage batches of 3 (15 keys, each sent twice) of 10 credits each, against grants of
    which one has lapsed: exactly 245 // 10 post, each key once, in consumption order."""
    admin, service = pg_callers["admin"], pg_callers["service"]
    opened = await _open(pg_client, admin, 90, WALLET)
    clock.offset = timedelta(hours=2)
    spend, body = f"{CREDITS}/90/spend", {"amount": DEBIT}
    batches = [
        [
            {"user_id": 90, "amount": DEBIT, "idempotency_key": f"u{(3 * b + e) % 15}"}
            for e in range(3)
        ]
        for b in range(10)
    ]
    responses = await _at_once(
        *(pg_client.post(spend, json=body, headers=admin) for _ in range(30)),
        *(
            pg_client.post(spend, json=body, headers={**service, "Idempotency-Key": f"s{n % 5}"})
            for n in range(10)
        ),
        *(pg_client.post(USAGE, json={"events": batch}, headers=service) for batch in batches),
    )
    spends, keyed, usage = responses[:30], responses[30:40], responses[40:]
    assert Counter(r.status_code for r in spends).keys() <= {200, 402}
    assert {(r.status_code, r.json().get("code")) for r in keyed} <= {
        (200, None),
        (402, "insufficient_credits"),
        (409, "idempotency_in_progress"),
    }
    assert [r.status_code for r in usage] == [200] * 10
    events = [event for r in usage for event in r.json()["results"]]
    assert {event["status"] for event in events} <= {"posted", "replayed", "insufficient_credits"}
    posted = (
        sum(r.status_code == 200 for r in spends)
        + _posted_keys(
            [
                (f"s{n % 5}", r.status_code, r.json().get("transaction_id"))
                for n, r in enumerate(keyed)
            ]
        )
        + _posted_keys([(e["idempotency_key"], 0, e.get("transaction_id")) for e in events])
    )
    assert posted == 245 // DEBIT

    history = await pg_client.get(f"{CREDITS}/90/transactions?limit=100", headers=admin)
    kinds = Counter(item["kind"] for item in history.json()["data"])
    assert kinds == {"spend": 245 // DEBIT, "admin_grant": len(WALLET)}
    left = {g["id"]: g["remaining"] for g in await grants(pg_client, admin, 90)}
    assert [left[grant] for grant in opened] == LEFT
    database = app_database(pg_client)
    assert await expire_due(database) == 1
    assert await expire_due(database) == 0
    history = await pg_client.get(f"{CREDITS}/90/transactions?limit=1", headers=admin)
    [expiry] = history.json()["data"]
    assert (expiry["kind"], expiry["amount"]) == ("expiry", -WALLET[0][0])  # none of it spent
    await assert_ledger_sound(database)


# Per user, (amount, priority, hours until expiry): three lapse, one of them emptied first.
LAPSING = [(5, 0, 1), (20, 10, 1), (30, 50, 1), (100, 50, None)]
SWEEPERS = 4


async def _expiries(client: httpx.AsyncClient, admin: dict[str, str], user: int) -> list[int]:
    history = await client.get(f"{CREDITS}/{user}/transactions?limit=100", headers=admin)
    return sorted(item["amount"] for item in history.json()["data"] if item["kind"] == "expiry")


async def test_racing_sweeps_expire_each_lapsed_grant_once(
    pg_client: httpx.AsyncClient, pg_callers: dict[str, Any], clock: Clock
) -> None:
    """Four sweeps at once, and 30 spends of 10 on the same wallets (20 of them can post):
    every lapsed grant that held credits is expired by exactly one transaction."""
    admin, users = pg_callers["admin"], (91, 92)
    for user in users:
        await _open(pg_client, admin, user, LAPSING)
        spent = await pg_client.post(f"{CREDITS}/{user}/spend", json={"amount": 5}, headers=admin)
        assert spent.status_code == 200, spent.text  # empties the first grant
    clock.offset = timedelta(hours=2)
    database = app_database(pg_client)
    outcomes = await _at_once(
        *(expire_due(database) for _ in range(SWEEPERS)),
        *(
            pg_client.post(f"{CREDITS}/{user}/spend", json={"amount": DEBIT}, headers=admin)
            for _ in range(15)
            for user in users
        ),
    )
    sweeps, spends = outcomes[:SWEEPERS], outcomes[SWEEPERS:]
    assert sum(sweeps) == 2 * len(users)
    assert Counter(r.status_code for r in spends) == {200: 20, 402: 10}
    for user in users:
        assert await _expiries(pg_client, admin, user) == [-30, -20]
        shown = [(g["status"], g["remaining"]) for g in await grants(pg_client, admin, user)]
        assert shown == [("depleted", 0), ("expired", 0), ("expired", 0), ("depleted", 0)]
    assert await expire_due(database) == 0
    await assert_ledger_sound(database)
