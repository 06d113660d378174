"""Holds over HTTP: credits reserved at once, captured in part, released, expired by the
worker, given back to the grants they came from."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from billing.core.times import Clock, utcnow
from billing.credits import balances, holds, service
from billing.credits.accounts import ADMIN_GRANT, HOLD_CAPTURE, HOLD_RELEASE
from billing.credits.hold_settlement import SETTLE, Settlement, arguments
from billing.credits.jobs import expire_due, release_due_holds
from billing.credits.models import CAPTURED, RELEASED
from billing.credits.transfers import Transfer
from billing.db.engine import Database
from tests.conftest import Credentials
from tests.support.activity import until_waiting_for_a_lock
from tests.support.credits import (
    CREDITS,
    add,
    assert_ledger_sound,
    assert_problem,
    days_ahead,
    grants,
    hold,
    settle,
)

# Money paths: on PostgreSQL, also through PgBouncer in transaction pooling.
pytestmark = pytest.mark.pgbouncer

User = dict[str, str]
WEEK = 7 * 86400


async def _wallet(client: httpx.AsyncClient, headers: User, user_id: int) -> tuple[int, int]:
    """(balance, held)."""
    body = (await client.get(f"{CREDITS}/{user_id}", headers=headers)).json()
    return body["balance"], body["held"]


async def _remaining(client: httpx.AsyncClient, headers: User, user_id: int) -> dict[int, Any]:
    return {g["id"]: (g["status"], g["remaining"]) for g in await grants(client, headers, user_id)}


async def _placed(client: httpx.AsyncClient, headers: User, amount: int, **body: Any) -> int:
    response = await hold(client, headers, 7, amount, **body)
    assert response.status_code == 201, response.text
    hold_id: int = response.json()["id"]
    return hold_id


async def _holds(client: httpx.AsyncClient, headers: User, query: str = "") -> list[Any]:
    response = await client.get(f"{CREDITS}/7/holds{query}", headers=headers)
    assert response.status_code == 200, response.text
    return [(h["id"], h["status"]) for h in response.json()["data"]]


async def test_a_hold_takes_its_credits_out_of_the_balance_at_once(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    admin, user = creds.admin(), creds.bearer(7)
    await add(client, admin, 7, 100)
    response = await hold(
        client, user, 7, 30, expires_in=60, description="llm call", metadata={"job": "j1"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["amount"], body["captured"], body["status"], body["balance"]) == (
        30,
        0,
        "active",
        70,
    )
    assert (body["description"], body["metadata"], body["settled_at"]) == (
        "llm call",
        {"job": "j1"},
        None,
    )
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert expires_at - datetime.fromisoformat(body["created_at"]) == timedelta(seconds=60)
    assert await _wallet(client, user, 7) == (70, 30)
    assert await _holds(client, user) == [(body["id"], "active")]
    history = (await client.get(f"{CREDITS}/7/transactions", headers=user)).json()["data"]
    assert (history[0]["kind"], history[0]["amount"]) == ("hold", -30)


async def test_a_partial_capture_gives_the_rest_back_to_the_grants_it_came_from(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    admin = creds.admin()
    promo = (await add(client, admin, 7, 20, source="promotion")).json()["grant"]["id"]
    plain = (await add(client, admin, 7, 100)).json()["grant"]["id"]
    hold_id = await _placed(client, admin, 50)
    assert await _remaining(client, admin, 7) == {promo: ("depleted", 0), plain: ("active", 70)}
    response = await settle(client, admin, 7, hold_id, "capture", amount=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["hold"]["status"], body["hold"]["captured"], body["balance"]) == (
        "captured",
        10,
        110,
    )
    assert body["hold"]["settled_at"] is not None
    # The capture takes from the grants in the order the hold did: the promotion first.
    assert await _remaining(client, admin, 7) == {promo: ("active", 10), plain: ("active", 100)}
    assert await _wallet(client, admin, 7) == (110, 0)
    history = (await client.get(f"{CREDITS}/7/transactions", headers=admin)).json()["data"]
    assert (history[0]["id"], history[0]["kind"], history[0]["amount"]) == (
        body["transaction_id"],
        "hold_capture",
        40,
    )


async def test_capturing_all_moves_nothing_back_to_the_wallet(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    admin = creds.admin()
    await add(client, admin, 7, 100)
    hold_id = await _placed(client, admin, 100)
    response = await client.post(f"{CREDITS}/7/holds/{hold_id}/capture", headers=admin)
    assert response.status_code == 200, response.text
    assert (response.json()["hold"]["captured"], response.json()["balance"]) == (100, 0)
    assert await _wallet(client, admin, 7) == (0, 0)


async def test_release_gives_everything_back_then_the_hold_is_settled(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    admin, user = creds.admin(), creds.bearer(7)
    first = (await add(client, admin, 7, 40, expires_at=days_ahead(5))).json()["grant"]["id"]
    second = (await add(client, admin, 7, 80)).json()["grant"]["id"]
    hold_id = await _placed(client, user, 60)
    response = await client.post(f"{CREDITS}/7/holds/{hold_id}/release", headers=user)
    assert response.status_code == 200, response.text
    assert (response.json()["hold"]["status"], response.json()["balance"]) == ("released", 120)
    assert await _remaining(client, admin, 7) == {first: ("active", 40), second: ("active", 80)}
    again = await settle(client, user, 7, hold_id, "release")
    assert_problem(again, 409, "hold_not_active")
    assert_problem(await settle(client, user, 7, hold_id, "capture"), 409, "hold_not_active")
    assert await _holds(client, user) == []
    assert await _holds(client, user, "?status=all") == [(hold_id, "released")]


async def test_refusals(client: httpx.AsyncClient, creds: Credentials) -> None:
    admin, user = creds.admin(), creds.bearer(7)
    await add(client, admin, 7, 50)
    short = assert_problem(await hold(client, user, 7, 51), 402, "insufficient_credits")
    assert (short["balance"], short["required"]) == (50, 51)
    for expires_in in (0, 604801, "60"):
        invalid = await hold(client, user, 7, 5, expires_in=expires_in)
        assert_problem(invalid, 422, "validation_error")
    hold_id = await _placed(client, user, 20)
    for amount in (0, 21):
        over = await settle(client, user, 7, hold_id, "capture", amount=amount)
        assert_problem(over, 422, "validation_error")
    assert_problem(await settle(client, user, 7, 999999, "release"), 404, "not_found")
    assert_problem(await settle(client, admin, 8, hold_id, "release"), 404, "not_found")
    assert_problem(await settle(client, creds.bearer(8), 7, hold_id, "release"), 403, "forbidden")
    assert await _wallet(client, user, 7) == (30, 20)


async def test_a_service_key_places_and_captures_for_any_user(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    service = await creds.api_key("service")
    await add(client, creds.admin(), 7, 10)
    hold_id = await _placed(client, service, 10)
    captured = await settle(client, service, 7, hold_id, "capture", amount=4)
    assert captured.status_code == 200, captured.text
    assert await _wallet(client, service, 7) == (6, 0)


async def test_the_worker_releases_a_hold_past_its_expiry_once(
    client: httpx.AsyncClient, creds: Credentials, database: Database, clock: Clock
) -> None:
    service = await creds.api_key("service")
    await add(client, creds.admin(), 7, 100)
    hold_id = await _placed(client, service, 40, expires_in=60)
    clock.offset = timedelta(seconds=59)
    assert await release_due_holds(database) == 0
    clock.offset = timedelta(seconds=60)
    for action in ("capture", "release"):  # the worker's, swept or not
        late = await settle(client, service, 7, hold_id, action)
        assert "expired" in assert_problem(late, 409, "hold_not_active")["detail"]
    assert await _wallet(client, service, 7) == (60, 40)
    assert await release_due_holds(database) == 1
    assert await release_due_holds(database) == 0
    assert await _wallet(client, service, 7) == (100, 0)
    assert await _holds(client, service, "?status=all") == [(hold_id, "expired")]
    late = await settle(client, service, 7, hold_id, "capture")
    assert_problem(late, 409, "hold_not_active")


async def _expiring_and_lasting(
    client: httpx.AsyncClient, creds: Credentials
) -> tuple[User, int, int]:
    """A service key, and user 7's grants: 50 credits expiring tomorrow, 100 never."""
    admin = creds.admin()
    soon = (await add(client, admin, 7, 50, expires_at=days_ahead(1))).json()["grant"]["id"]
    later = (await add(client, admin, 7, 100)).json()["grant"]["id"]
    return await creds.api_key("service"), soon, later


async def test_credits_going_back_to_a_grant_that_expired_meanwhile_expire_at_once(
    client: httpx.AsyncClient, creds: Credentials, database: Database, clock: Clock
) -> None:
    service, soon, later = await _expiring_and_lasting(client, creds)
    promo = (await add(client, creds.admin(), 7, 30, source="promotion")).json()["grant"]["id"]
    captured = await _placed(client, service, 80, expires_in=WEEK)  # promo 30, soon 50
    clock.offset = timedelta(days=2)
    # Captured first from the grant that expired, so as little as possible is lost: of
    # its 50, 30 go back and expire at once; the promotion gets all its 30 back.
    response = await settle(client, service, 7, captured, "capture", amount=20)
    assert response.status_code == 200, response.text
    assert response.json()["balance"] == 130
    assert await _remaining(client, service, 7) == {
        promo: ("active", 30),
        soon: ("depleted", 0),
        later: ("active", 100),
    }
    history = (await client.get(f"{CREDITS}/7/transactions", headers=service)).json()["data"]
    assert [(item["kind"], item["amount"]) for item in history[:2]] == [
        ("expiry", -30),
        ("hold_capture", 60),
    ]
    assert await expire_due(database) == 0
    assert await _wallet(client, service, 7) == (130, 0)


async def test_a_release_to_a_swept_grant_expires_what_goes_back(
    client: httpx.AsyncClient, creds: Credentials, database: Database, clock: Clock
) -> None:
    service, soon, later = await _expiring_and_lasting(client, creds)
    hold_id = await _placed(client, service, 30, expires_in=WEEK)
    clock.offset = timedelta(days=2)
    assert await expire_due(database) == 1  # the 20 left of `soon`
    response = await settle(client, service, 7, hold_id, "release")
    assert response.status_code == 200, response.text
    assert response.json()["balance"] == 100
    assert await _remaining(client, service, 7) == {soon: ("expired", 0), later: ("active", 100)}


async def test_every_post_replays_by_its_key(client: httpx.AsyncClient, creds: Credentials) -> None:
    user = creds.bearer(7)
    await add(client, creds.admin(), 7, 100)
    keyed = {**user, "Idempotency-Key": "hold-1"}
    first, again = [await hold(client, keyed, 7, 30) for _ in range(2)]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    hold_id = first.json()["id"]
    capture = {**user, "Idempotency-Key": "capture-1"}
    first, again = [await settle(client, capture, 7, hold_id, "capture", amount=5) for _ in "ab"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = {**user, "Idempotency-Key": "release-1"}
    assert_problem(await settle(client, other, 7, hold_id, "release"), 409, "hold_not_active")
    assert await _wallet(client, user, 7) == (95, 0)


async def test_the_ledger_replays_a_key_whose_stored_response_was_lost(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    """A request that died mid-way is retried after its claim went stale: the ledger's
    own keys answer with the hold and the settlement the first attempt made."""
    await add(client, creds.admin(), 7, 100)
    new = holds.NewHold(user_id=7, amount=30, actor="user:7", idempotency_key="api:user:7:h")
    placed, replayed = await holds.place(database, new), await holds.place(database, new)
    assert (replayed.replayed, replayed.hold, replayed.balance) == (True, placed.hold, 70)
    settlement = Settlement(
        placed.hold.id, 7, HOLD_CAPTURE, CAPTURED, "user:7", capture=None, idempotency_key="k"
    )
    settled = await holds.settle(database, settlement)
    again = await holds.settle(database, settlement)
    assert (settled.replayed, again.replayed) == (False, True)
    assert (again.hold, again.transaction_id, again.balance) == (
        settled.hold,
        settled.transaction_id,
        70,
    )


async def test_the_list_pages_newest_first(client: httpx.AsyncClient, creds: Credentials) -> None:
    user = creds.bearer(7)
    await add(client, creds.admin(), 7, 100)
    ids = [await _placed(client, user, 10) for _ in range(3)]
    await settle(client, user, 7, ids[1], "release")
    assert await _holds(client, user) == [(ids[2], "active"), (ids[0], "active")]
    page = (await client.get(f"{CREDITS}/7/holds?status=all&limit=2", headers=user)).json()
    assert [h["id"] for h in page["data"]] == [ids[2], ids[1]]
    assert page["has_more"]
    rest = await client.get(
        f"{CREDITS}/7/holds?status=all&limit=2&cursor={page['next_cursor']}", headers=user
    )
    assert [h["id"] for h in rest.json()["data"]] == [ids[0]]
    assert not rest.json()["has_more"]
    assert await _wallet(client, user, 7) == (80, 20)


async def test_transactions_settling_holds_of_one_wallet_never_deadlock(pg: Database) -> None:
    """A group commit settles several holds of a wallet in one transaction: here B, then
    A, while another transaction settles A. Each takes the wallet before a hold, so the
    other waits instead of holding A and waiting for the wallet (a deadlock PostgreSQL
    ends by failing one of them)."""
    await service.post(pg, Transfer(ADMIN_GRANT, 7, 100, actor="test"))
    placed = [await holds.place(pg, holds.NewHold(7, 20, actor="test")) for _ in range(2)]
    a, b = (p.hold.id for p in placed)
    now = utcnow()

    def release(hold_id: int, key: str) -> tuple[Any, ...]:
        return arguments(Settlement(hold_id, 7, HOLD_RELEASE, RELEASED, "test"), key, now)

    async with pg.driver_connection() as batch, pg.driver_connection() as other:
        async with batch.transaction():
            assert await batch.fetchrow(SETTLE, *release(b, "batch:b")) is not None
            racing = asyncio.create_task(other.fetchrow(SETTLE, *release(a, "other:a")))
            await until_waiting_for_a_lock(pg, "the other settlement")  # for the wallet
            assert not racing.done()
            settled = await batch.fetchrow(SETTLE, *release(a, "batch:a"))
            assert settled is not None
        assert await racing is None  # it then found A settled
    async with pg.sessions() as session:
        assert (await balances.balance(session, 7)).balance == 100
    await assert_ledger_sound(pg)
