"""The ledger tells the platform of credits that enter a wallet, in the posting itself
(one statement on PostgreSQL, one transaction on SQLite): once, and as documented."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select

from billing.credits.events import GRANTED, GrantedData
from billing.db.engine import Database
from billing.db.outbox import OutboxMessage
from billing.http.platform_webhooks import _message
from tests.conftest import Credentials
from tests.support.credits import add, days_ahead, spend


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
