"""Idempotency-Key: replay, conflict, in-progress, expiry, scoping and crash recovery."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import func, select, update
from starlette.responses import Response

from billing.core.errors import IdempotencyInProgress
from billing.core.times import utcnow
from billing.credits.models import CreditTransaction
from billing.db.engine import Database
from billing.idempotency.models import IdempotencyRecord
from billing.idempotency.route import IdempotentRoute
from billing.idempotency.store import STALE_CLAIM, Claim, IdempotencyStore, StoredResponse
from tests.conftest import Credentials
from tests.support.credits import CREDITS, add, assert_problem, balance, spend


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def transaction_count(database: Database) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(CreditTransaction)) or 0)


async def test_a_repeat_replays_the_first_response_verbatim(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    await add(client, creds.admin(), 1, 100)
    first = await spend(client, keyed(creds.bearer(1), "k1"), 1, 10)
    again = await spend(client, keyed(creds.bearer(1), "k1"), 1, 10)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await balance(client, creds.bearer(1), 1) == 90
    assert await transaction_count(database) == 2


async def test_the_body_key_is_the_same_key_as_the_header(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    await add(client, creds.admin(), 1, 100)
    first = await spend(client, creds.bearer(1), 1, 10, idempotency_key="body-key")
    both = await spend(
        client, keyed(creds.bearer(1), "body-key"), 1, 10, idempotency_key="body-key"
    )
    assert both.headers["Idempotent-Replayed"] == "true"
    assert both.json() == first.json()
    assert await balance(client, creds.bearer(1), 1) == 90


async def test_a_failed_request_is_replayed_too(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    await add(client, creds.admin(), 1, 5)
    assert_problem(
        await spend(client, keyed(creds.bearer(1), "k"), 1, 10), 402, "insufficient_credits"
    )
    await add(client, creds.admin(), 1, 100)
    replay = await spend(client, keyed(creds.bearer(1), "k"), 1, 10)
    assert_problem(replay, 402, "insufficient_credits")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert await balance(client, creds.bearer(1), 1) == 105


@pytest.mark.parametrize(
    ("path_user", "amount", "extra"),
    [(1, 11, {}), (1, 10, {"description": "other"}), (2, 10, {})],
    ids=["other amount", "other body", "other path"],
)
async def test_the_same_key_for_another_request_is_a_conflict(
    client: httpx.AsyncClient,
    creds: Credentials,
    path_user: int,
    amount: int,
    extra: dict[str, str],
) -> None:
    await add(client, creds.admin(), 1, 100)
    await add(client, creds.admin(), 2, 100)
    admin = keyed(creds.admin(), "shared")
    assert (await spend(client, admin, 1, 10)).status_code == 200
    assert_problem(
        await spend(client, admin, path_user, amount, **extra), 409, "idempotency_conflict"
    )
    assert await balance(client, creds.admin(), 1) == 90
    assert await balance(client, creds.admin(), 2) == 100


async def test_keys_are_scoped_by_principal(client: httpx.AsyncClient, creds: Credentials) -> None:
    for user in (1, 2):
        await add(client, creds.admin(), user, 100)
        assert (await spend(client, keyed(creds.bearer(user), "same"), user, 10)).status_code == 200
    service_key = await creds.api_key("service")
    assert (await spend(client, keyed(service_key, "same"), 1, 10)).status_code == 200
    assert await balance(client, creds.admin(), 1) == 80
    assert await balance(client, creds.admin(), 2) == 90


async def mark_in_progress(database: Database, locked_at: datetime) -> None:
    """Put every stored key back in the state of a request that has not finished."""
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(IdempotencyRecord).values(
                status="in_progress", response_status=None, locked_at=locked_at
            )
        )


async def test_a_repeat_while_the_first_runs_is_in_progress(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    await add(client, creds.admin(), 1, 100)
    await spend(client, keyed(creds.bearer(1), "slow"), 1, 10)
    await mark_in_progress(database, utcnow())
    response = await spend(client, keyed(creds.bearer(1), "slow"), 1, 10)
    assert_problem(response, 409, "idempotency_in_progress")
    assert response.headers["Retry-After"]
    assert await balance(client, creds.bearer(1), 1) == 90


async def test_a_stale_claim_is_taken_over_without_applying_twice(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    """A request that died after its ledger effect but before storing its response."""
    await add(client, creds.admin(), 1, 100)
    first = await spend(client, keyed(creds.bearer(1), "crash"), 1, 10)
    await mark_in_progress(database, utcnow() - STALE_CLAIM - timedelta(seconds=1))
    retried = await spend(client, keyed(creds.bearer(1), "crash"), 1, 10)
    assert retried.status_code == 200
    assert retried.json() == first.json()
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert await balance(client, creds.bearer(1), 1) == 90


async def test_a_taken_over_claim_is_not_completed_by_its_old_owner(database: Database) -> None:
    store = IdempotencyStore(database)
    old = await store.claim("user:1", "k", "fingerprint")
    assert isinstance(old, Claim)
    async with database.sessions() as session, session.begin():
        stale = utcnow() - STALE_CLAIM - timedelta(seconds=1)
        await session.execute(update(IdempotencyRecord).values(locked_at=stale))
    new = await store.claim("user:1", "k", "fingerprint")
    assert isinstance(new, Claim)
    await store.complete(old, Response(b"old", 200))
    await store.release(old)
    with pytest.raises(IdempotencyInProgress):
        await store.claim("user:1", "k", "fingerprint")
    await store.complete(new, Response(b"new", 200))
    replay = await store.claim("user:1", "k", "fingerprint")
    assert isinstance(replay, StoredResponse)
    assert replay.body == b"new"


@pytest.mark.parametrize(
    "body",
    [
        b'\xef\xbb\xbf{"amount": 10, "idempotency_key": "bom"}',
        '{"amount": 10, "idempotency_key": "utf16"}'.encode("utf-16-le"),
        b"amount=10&idempotency_key=form",
    ],
    ids=["byte order mark", "utf-16", "form encoded"],
)
async def test_a_body_the_key_cannot_be_read_from_is_refused(
    client: httpx.AsyncClient, creds: Credentials, body: bytes
) -> None:
    await add(client, creds.admin(), 1, 100)
    headers = {**creds.bearer(1), "Content-Type": "application/json"}
    for _ in range(2):
        response = await client.post(f"{CREDITS}/1/spend", content=body, headers=headers)
        assert_problem(response, 422, "validation_error")
    assert await balance(client, creds.bearer(1), 1) == 100


async def test_an_expired_key_runs_again_and_the_ledger_still_applies_it_once(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    await add(client, creds.admin(), 1, 100)
    first = await spend(client, keyed(creds.bearer(1), "old"), 1, 10)
    async with database.sessions() as session, session.begin():
        await session.execute(update(IdempotencyRecord).values(expires_at=utcnow()))
    again = await spend(client, keyed(creds.bearer(1), "old"), 1, 10)
    assert again.status_code == 200
    # The ledger keeps its own key for good: the operation is answered, not applied again.
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await balance(client, creds.bearer(1), 1) == 90


async def test_concurrent_requests_with_one_key_have_one_effect(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    await add(client, creds.admin(), 1, 1000)
    headers = keyed(creds.bearer(1), "race")
    responses = await asyncio.gather(*(spend(client, headers, 1, 10) for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 409}
    ok = [r for r in responses if r.status_code == 200]
    assert len({r.json()["transaction_id"] for r in ok}) == 1
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.json()["code"] == "idempotency_in_progress"
    assert await balance(client, creds.bearer(1), 1) == 990
    assert await transaction_count(database) == 2


async def test_server_errors_are_not_stored(client: httpx.AsyncClient, creds: Credentials) -> None:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    calls: list[int] = []
    router = APIRouter(route_class=IdempotentRoute)

    @router.post("/flaky")
    async def flaky() -> dict[str, int]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return {"calls": len(calls)}

    transport.app.include_router(router)  # type: ignore[attr-defined]
    first = await client.post("/flaky", headers=keyed(creds.admin(), "k"))
    assert_problem(first, 500, "internal_error")
    second = await client.post("/flaky", headers=keyed(creds.admin(), "k"))
    assert second.status_code == 200
    assert second.json() == {"calls": 2}
    third = await client.post("/flaky", headers=keyed(creds.admin(), "k"))
    assert third.headers["Idempotent-Replayed"] == "true"
    assert third.json() == {"calls": 2}


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\tkey"])
async def test_malformed_keys_are_refused(
    client: httpx.AsyncClient, creds: Credentials, key: str
) -> None:
    await add(client, creds.admin(), 1, 100)
    assert_problem(await spend(client, keyed(creds.bearer(1), key), 1, 10), 422, "validation_error")
    assert await balance(client, creds.bearer(1), 1) == 100


async def test_reads_ignore_the_header(client: httpx.AsyncClient, creds: Credentials) -> None:
    response = await client.get(f"{CREDITS}/1", headers=keyed(creds.bearer(1), "k"))
    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response.headers
