"""The ledger tells the platform of credits that enter a wallet, of grants and holds that
expire, in the posting itself (one statement on PostgreSQL, one transaction on SQLite):
once, and as documented."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from billing.core.times import Clock
from billing.credits.events import EXPIRED, GRANTED, HOLD_EXPIRED, GrantedData
from billing.credits.jobs import expire_due, release_due_holds
from billing.db.engine import Database
from billing.db.outbox import OutboxMessage
from billing.http.platform_webhooks import DATA, _message
from tests.conftest import Credentials
from tests.support.credits import add, days_ahead, hold, settle, spend


async def _messages(database: Database) -> list[OutboxMessage]:
    async with database.sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_credits_that_enter_a_wallet_are_told_once_as_documented(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    admin = {**creds.admin(), "Idempotency-Key": "promo-1"}
    expires = days_ahead(30)
    body: dict[str, Any] = {"source": "promotion", "priority": 5, "expires_at": expires}
    added = await add(client, admin, 31, 250, **body)
    assert added.status_code == 200, added.text
    assert (await add(client, admin, 31, 250, **body)).status_code == 200  # replayed
    assert (await spend(client, creds.admin(), 31, 50)).status_code == 200  # tells nothing

    [written] = await _messages(database)
    assert (written.type, written.user_id) == (GRANTED, 31)
    assert written.message_id.startswith("msg_")
    _message(GRANTED, GrantedData).model_validate_json(written.body)  # as documented
    sent_at = datetime.fromisoformat(json.loads(written.body)["timestamp"])
    assert sent_at == datetime.fromisoformat(added.json()["created_at"])
    data = json.loads(written.body)["data"]
    grant = added.json()["grant"]
    assert data == {
        "user_id": 31,
        "grant": {
            "id": grant["id"],
            "source": "promotion",
            "amount": 250,
            "priority": 5,
            "expires_at": data["grant"]["expires_at"],
            "reference": None,
        },
        "transaction_id": added.json()["transaction_id"],
        "balance": 250,
    }
    assert datetime.fromisoformat(data["grant"]["expires_at"]) == datetime.fromisoformat(expires)


async def _told(database: Database, type_: str) -> list[dict[str, Any]]:
    found = [json.loads(m.body) for m in await _messages(database) if m.type == type_]
    for body in found:
        documented = DATA[type_][0]
        _message(type_, documented).model_validate(body)
    return [body["data"] for body in found]


async def test_a_grant_that_expires_is_told_once(
    client: httpx.AsyncClient, creds: Credentials, database: Database, clock: Clock
) -> None:
    added = await add(client, creds.admin(), 32, 80, expires_at=days_ahead(1))
    await add(client, creds.admin(), 32, 20)
    await spend(client, creds.admin(), 32, 30)  # from the expiring grant: 50 left in it
    clock.offset = timedelta(days=2)
    await expire_due(database)
    await expire_due(database)
    [told] = await _told(database, EXPIRED)
    assert (told["user_id"], told["grant_id"]) == (32, added.json()["grant"]["id"])
    assert (told["credits"], told["balance"]) == (50, 20)
    assert isinstance(told["transaction_id"], int)


async def test_a_hold_released_by_the_worker_is_told_once_and_a_callers_release_not(
    client: httpx.AsyncClient, creds: Credentials, database: Database, clock: Clock
) -> None:
    service = await creds.api_key("service")
    await add(client, creds.admin(), 33, 100)
    released = (await hold(client, service, 33, 10)).json()["id"]
    await settle(client, service, 33, released, "release")
    lapsing = (await hold(client, service, 33, 40, expires_in=60)).json()
    clock.offset = timedelta(seconds=61)
    await release_due_holds(database)
    await release_due_holds(database)
    [told] = await _told(database, HOLD_EXPIRED)
    assert told["hold"]["id"] == lapsing["id"]
    assert told["hold"]["amount"] == 40
    assert datetime.fromisoformat(told["hold"]["expires_at"]) == datetime.fromisoformat(
        lapsing["expires_at"]
    )
    assert (told["user_id"], told["balance"]) == (33, 100)
