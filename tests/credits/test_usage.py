"""POST /api/financial/usage: metered debits in batches, an answer per event, in order,
each event atomic on its own, its key shared with the caller's spends."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.db.engine import Database
from tests.conftest import Credentials
from tests.support.credits import CREDITS, add, assert_ledger_sound, assert_problem, balance

# Money paths: on PostgreSQL, also through PgBouncer in transaction pooling.
pytestmark = pytest.mark.pgbouncer

USAGE = "/api/financial/usage"


def usage_event(user_id: int, amount: int, key: str, **extra: Any) -> dict[str, Any]:
    return {"user_id": user_id, "amount": amount, "idempotency_key": key, **extra}


async def report(
    client: httpx.AsyncClient, headers: dict[str, str], events: list[Any]
) -> list[dict[str, Any]]:
    response = await client.post(USAGE, json={"events": events}, headers=headers)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    assert len(results) == len(events)
    return results


async def test_each_event_gets_its_own_answer_and_the_batch_goes_on(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    await add(client, creds.admin(), 11, 100)
    await add(client, creds.admin(), 12, 5)
    service = await creds.api_key("service")
    events: list[Any] = [
        usage_event(11, 30, "a", description="tokens", metadata={"model": "m"}),
        usage_event(12, 10, "b"),  # holds 5
        usage_event(11, 30, "a"),  # the same event again
        usage_event(11, 31, "a"),  # its key, another amount
        {"user_id": 11, "amount": -4, "idempotency_key": "c"},
        "not an event",
        {"user_id": 11, "amount": 5},
        usage_event(11, 20, "d", surprise=True),
        usage_event(True, 1, "f"),  # a boolean is no user id
        usage_event(2**63, 1, "g"),  # beyond the largest user id
        usage_event(11, 60, "e"),
    ]
    results = await report(client, service, events)

    assert [r["status"] for r in results] == [
        "posted",
        "insufficient_credits",
        "replayed",
        "conflict",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
        "posted",
    ]
    assert results[0]["transaction_id"] == results[2]["transaction_id"]
    assert (results[0]["balance"], results[10]["balance"]) == (70, 10)
    assert (results[1]["balance"], results[1]["user_id"]) == (5, 12)
    assert results[4]["detail"].startswith("amount:")
    assert results[4]["idempotency_key"] == "c"
    assert results[5]["idempotency_key"] is None
    assert results[6]["detail"].startswith("idempotency_key:")
    assert results[7]["detail"].startswith("surprise:")
    assert [results[8]["user_id"], results[9]["user_id"]] == [None, 2**63]
    assert all(r["detail"].startswith("user_id:") for r in results[8:10])
    assert await balance(client, creds.admin(), 11) == 10
    assert await balance(client, creds.admin(), 12) == 5
    await assert_ledger_sound(database)


async def test_an_event_and_a_spend_with_one_key_post_once_whichever_comes_first(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    await add(client, creds.admin(), 21, 100)
    service = await creds.api_key("service")
    [first] = await report(client, service, [usage_event(21, 10, "job-1")])
    again = await client.post(
        f"{CREDITS}/21/spend", json={"amount": 10}, headers={**service, "Idempotency-Key": "job-1"}
    )
    assert again.status_code == 200, again.text
    assert again.json()["transaction_id"] == first["transaction_id"]

    spent = await client.post(
        f"{CREDITS}/21/spend", json={"amount": 7}, headers={**service, "Idempotency-Key": "job-2"}
    )
    [replayed, other] = await report(
        client, service, [usage_event(21, 7, "job-2"), usage_event(21, 8, "job-2")]
    )
    assert (replayed["status"], replayed["transaction_id"]) == (
        "replayed",
        spent.json()["transaction_id"],
    )
    assert other["status"] == "conflict"
    assert await balance(client, creds.admin(), 21) == 83


async def test_keys_are_the_callers_own(client: httpx.AsyncClient, creds: Credentials) -> None:
    """Two services may use the same key for different debits: each posts."""
    await add(client, creds.admin(), 31, 100)
    one, two = await creds.api_key("service"), await creds.api_key("service")
    [a] = await report(client, one, [usage_event(31, 10, "k")])
    [b] = await report(client, two, [usage_event(31, 20, "k")])
    assert (a["status"], b["status"]) == ("posted", "posted")
    assert await balance(client, creds.admin(), 31) == 70


async def test_only_platform_backends_and_admins_report_usage(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    body = {"events": [usage_event(41, 1, "x")]}
    assert_problem(await client.post(USAGE, json=body, headers=creds.bearer(41)), 403, "forbidden")
    assert (await client.post(USAGE, json=body)).status_code == 401
    admin = await client.post(USAGE, json=body, headers=creds.admin())
    assert admin.json()["results"][0]["status"] == "insufficient_credits"


async def test_a_batch_holds_1_to_1000_events_and_up_to_1_mib(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    service = await creds.api_key("service")
    await add(client, creds.admin(), 51, 1000)
    full = [usage_event(51, 1, f"event-{n:04d}", description="d" * 400) for n in range(1000)]
    assert len(json.dumps({"events": full})) > 64 * 1024  # beyond other routes' limit
    results = await report(client, service, full)
    assert {r["status"] for r in results} == {"posted"}
    assert await balance(client, creds.admin(), 51) == 0

    for events in ([], [*full, usage_event(51, 1, "one-too-many")]):
        response = await client.post(USAGE, json={"events": events}, headers=service)
        assert_problem(response, 422, "validation_error")
    huge = {"events": [usage_event(51, 1, "x", description="d" * 500)] * 2200}
    response = await client.post(USAGE, json=huge, headers=service)
    assert_problem(response, 413, "payload_too_large")
    await assert_ledger_sound(database)


# Events over two users and four keys: collisions of keys, amounts beyond the balance.
event_st = st.tuples(st.sampled_from([71, 72]), st.integers(1, 60), st.sampled_from("wxyz"))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.lists(event_st, min_size=1, max_size=6), min_size=1, max_size=3))
async def test_any_batches_end_as_an_oracle_says(
    client: httpx.AsyncClient,
    creds: Credentials,
    database: Database,
    batches: list[list[tuple[int, int, str]]],
) -> None:
    """The oracle: a key first seen posts if the wallet holds the amount (else it is
    insufficient and stays free); seen with the same user and amount it replays; with
    another, it conflicts. Keys are free again in each example (a fresh caller)."""
    service = await creds.api_key("service")
    start = {71: await balance(client, creds.admin(), 71), 72: 0}
    if start[71] < 100:
        await add(client, creds.admin(), 71, 100)
        start[71] += 100
    start[72] = await balance(client, creds.admin(), 72)
    wallets, posted = dict(start), dict[str, tuple[int, int]]()
    for batch in batches:
        expected = []
        for user, amount, key in batch:
            if key in posted:
                expected.append("replayed" if posted[key] == (user, amount) else "conflict")
            elif wallets[user] >= amount:
                wallets[user] -= amount
                posted[key] = (user, amount)
                expected.append("posted")
            else:
                expected.append("insufficient_credits")
        events = [usage_event(user, amount, key) for user, amount, key in batch]
        assert [r["status"] for r in await report(client, service, events)] == expected
    for user, held in wallets.items():
        assert await balance(client, creds.admin(), user) == held
    await assert_ledger_sound(database)
