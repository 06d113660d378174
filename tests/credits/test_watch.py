"""A wallet tells the platform when a debit takes its balance below its low-balance
threshold (`credits.low`) and when one empties it (`credits.depleted`): decided in the
debit itself, once per crossing, whichever posting made it (spend, hold, usage batch,
expiry), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from billing.core.config import Settings
from billing.core.times import Clock
from billing.credits.events import DEPLETED, LOW
from billing.credits.jobs import expire_due
from billing.db.engine import Database
from billing.db.outbox import OutboxMessage
from billing.http.platform_webhooks import DATA, _message
from tests.conftest import Credentials, app_database, asgi_client
from tests.credits.test_usage import report, usage_event
from tests.support import pgbouncer
from tests.support.credits import CREDITS, add, days_ahead, hold, spend
from tests.support.pgbouncer import connect_query, settings_for

# Money paths: on PostgreSQL, also through PgBouncer in transaction pooling.
pytestmark = pytest.mark.pgbouncer


async def told(database: Database) -> list[tuple[str, dict[str, Any]]]:
    """The balance alerts in the outbox, oldest first, each checked against its schema."""
    async with database.sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.type.in_((LOW, DEPLETED)))
                .order_by(OutboxMessage.id)
            )
        ).all()
    found = []
    for row in rows:
        body = json.loads(row.body)
        _message(row.type, DATA[row.type][0]).model_validate(body)
        found.append((row.type, body["data"]))
    return found


async def set_threshold(
    client: httpx.AsyncClient, headers: dict[str, str], user_id: int, threshold: int | None
) -> httpx.Response:
    response = await client.put(
        f"{CREDITS}/{user_id}/settings",
        json={"low_balance_threshold": threshold, "auto_topup": None},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response


async def test_each_downward_crossing_is_told_once(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    admin = creds.admin()
    await set_threshold(client, admin, 41, 100)
    await add(client, admin, 41, 150)
    for amount in (30, 30, 30):  # 120, then 90: crossed, then 60
        assert (await spend(client, admin, 41, amount)).status_code == 200
    assert await told(database) == [(LOW, {"user_id": 41, "balance": 90, "threshold": 100})]

    await add(client, admin, 41, 100)  # 160: above again, and nothing to tell
    await spend(client, admin, 41, 70)  # 90: crossed again
    await spend(client, admin, 41, 90)  # 0: empty, and already below
    assert await told(database) == [
        (LOW, {"user_id": 41, "balance": 90, "threshold": 100}),
        (LOW, {"user_id": 41, "balance": 90, "threshold": 100}),
        (DEPLETED, {"user_id": 41, "balance": 0}),
    ]


async def test_one_debit_that_empties_a_wallet_above_its_threshold_tells_both(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    await set_threshold(client, creds.admin(), 42, 10)
    await add(client, creds.admin(), 42, 50)
    await spend(client, creds.admin(), 42, 50)
    assert [type_ for type_, _ in await told(database)] == [LOW, DEPLETED]


async def test_without_a_threshold_only_an_empty_wallet_is_told(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    await add(client, creds.admin(), 43, 50)
    await spend(client, creds.admin(), 43, 49)
    assert await told(database) == []
    await spend(client, creds.admin(), 43, 1)
    assert await told(database) == [(DEPLETED, {"user_id": 43, "balance": 0})]


async def test_a_balance_already_below_when_the_threshold_is_set_is_no_crossing(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    await add(client, creds.admin(), 44, 50)
    await set_threshold(client, creds.admin(), 44, 100)
    await spend(client, creds.admin(), 44, 10)
    assert await told(database) == []


async def test_holds_usage_batches_and_expiry_cross_too(
    client: httpx.AsyncClient, creds: Credentials, database: Database, clock: Clock
) -> None:
    admin, service = creds.admin(), await creds.api_key("service")
    for user_id in (45, 46, 47):
        await set_threshold(client, admin, user_id, 100)
    await add(client, admin, 45, 150)
    assert (await hold(client, service, 45, 60)).status_code == 201
    await add(client, admin, 46, 150)
    await report(client, service, [usage_event(46, 30, "u-1"), usage_event(46, 30, "u-2")])
    await add(client, admin, 47, 90)
    await add(client, admin, 47, 60, expires_at=days_ahead(1))
    clock.offset = timedelta(days=2)
    await expire_due(database)  # 60 lapsed: 90 left
    alerts = await told(database)
    assert {type_ for type_, _ in alerts} == {LOW}
    assert sorted((data["user_id"], data["balance"]) for _, data in alerts) == [
        (45, 90),
        (46, 90),
        (47, 90),
    ]


async def test_the_service_default_threshold_holds_for_users_without_one(
    settings: Settings, creds: Credentials, tmp_path: Path
) -> None:
    """Behind PgBouncer, PgBouncer sets the threshold on its server connections."""
    with ExitStack() as stack:
        if settings.DATABASE_PGBOUNCER:
            bouncer = stack.enter_context(
                pgbouncer.running(settings.DATABASE_URL, connect_query(40))
            )
            settings = settings_for(
                bouncer.url_for(settings.DATABASE_URL), BILLING_DATA_DIR=tmp_path
            )
        async with asgi_client(
            settings.model_copy(update={"BILLING_LOW_BALANCE_THRESHOLD": 40})
        ) as client:
            await add(client, creds.admin(), 48, 50)
            await spend(client, creds.admin(), 48, 20)
            assert await told(app_database(client)) == [
                (LOW, {"user_id": 48, "balance": 30, "threshold": 40})
            ]


async def test_concurrent_spends_cross_once(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    """200 spends at once: the 101st takes the balance below 200, and only it tells."""
    service = await creds.api_key("service")
    await set_threshold(client, creds.admin(), 49, 200)
    await add(client, creds.admin(), 49, 300)
    answers = await asyncio.gather(*(spend(client, service, 49, 1) for _ in range(200)))
    assert {answer.status_code for answer in answers} == {200}
    assert await told(database) == [(LOW, {"user_id": 49, "balance": 199, "threshold": 200})]
