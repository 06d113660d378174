"""The dispatcher against a real receiver on this machine: what it is sent, signed as the
Standard Webhooks library checks, and how it retries, gives up and shares the work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from billing.core.config import Settings
from billing.core.times import Clock
from billing.db import outbox
from billing.db.engine import Database
from billing.obs.metrics import ALERTS
from billing.outbound import service
from billing.outbound.dispatcher import BACKOFF, LEASE, claim, deliver, fan_out
from billing.outbound.models import WebhookAttempt, WebhookDelivery
from billing.outbound.sending import client as http_client
from tests.support.receiver import HANG, Receiver, receiver


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The service's database, without the app (whose worker would dispatch too)."""
    db = Database(settings)
    yield db
    await db.dispose()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with http_client() as client:
        yield client


@pytest.fixture
async def platform() -> AsyncIterator[Receiver]:
    async with receiver() as endpoint:
        yield endpoint


async def _endpoint(
    database: Database, settings: Settings, url: str, events: list[str]
) -> tuple[int, str]:
    async with database.sessions() as session:
        endpoint, secret = await service.create(
            session, settings, url=url, events=events, description=None, actor="test"
        )
    return endpoint.id, secret


async def _emit(database: Database, type_: str, user_id: int = 7, commit: bool = True) -> str:
    """A message written in a transaction that commits (or rolls back); its id."""
    async with database.sessions() as session:
        transaction = await session.begin()
        written = outbox.write(session, type_, {"credits": {"balance": 5}}, user_id)
        await session.flush()
        await (transaction.commit() if commit else transaction.rollback())
    return written.message_id


async def _deliveries(database: Database) -> list[tuple[str, int, int | None]]:
    async with database.sessions() as session:
        rows = await session.execute(
            select(
                WebhookDelivery.status, WebhookDelivery.attempts, WebhookDelivery.last_status_code
            ).order_by(WebhookDelivery.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def _attempts(database: Database) -> list[tuple[int | None, str | None]]:
    async with database.sessions() as session:
        rows = await session.execute(
            select(WebhookAttempt.status_code, WebhookAttempt.error).order_by(WebhookAttempt.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_each_subscribed_endpoint_gets_the_message_signed(
    database: Database, settings: Settings, http: httpx.AsyncClient, platform: Receiver
) -> None:
    _, every = await _endpoint(database, settings, platform.url, ["*"])
    _, low = await _endpoint(database, settings, platform.url + "/low", ["credits.low"])
    await _endpoint(database, settings, platform.url + "/paid", ["payment.failed"])
    message_id = await _emit(database, "credits.low")
    await _emit(database, "credits.depleted", commit=False)  # rolled back: never sent

    assert await deliver(database, settings, http) == 2
    assert await deliver(database, settings, http) == 0
    assert sorted(platform.ids()) == [message_id, message_id]
    secrets = {"/hooks": every, "/hooks/low": low}
    for request in platform.received:
        payload = Webhook(secrets.pop(request.path)).verify(request.body, request.headers)
        assert payload["type"] == "credits.low"
        assert payload["data"] == {"user_id": 7, "credits": {"balance": 5}}
        assert request.headers["content-type"] == "application/json"
    assert secrets == {}
    assert await _deliveries(database) == [("delivered", 1, 200), ("delivered", 1, 200)]
    assert await _attempts(database) == [(200, None), (200, None)]


def _verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


async def test_a_failing_receiver_gets_the_same_message_again_after_the_backoff(
    database: Database,
    settings: Settings,
    http: httpx.AsyncClient,
    platform: Receiver,
    clock: Clock,
) -> None:
    await _endpoint(database, settings, platform.url, ["*"])
    platform.answers = [500]
    await _emit(database, "payment.failed")
    await deliver(database, settings, http)
    assert await _deliveries(database) == [("pending", 1, 500)]
    clock.offset = BACKOFF[0] - timedelta(seconds=1)
    assert await deliver(database, settings, http) == 0  # not due yet
    clock.offset = BACKOFF[0]
    assert await deliver(database, settings, http) == 1
    assert await _deliveries(database) == [("delivered", 2, 200)]
    assert len(set(platform.ids())) == 1
    assert len(platform.received) == 2
    assert await _attempts(database) == [(500, None), (200, None)]


async def test_a_receiver_that_hangs_is_cut_at_the_timeout_and_retried(
    database: Database, settings: Settings, platform: Receiver
) -> None:
    await _endpoint(database, settings, platform.url, ["*"])
    platform.answers = [HANG]
    await _emit(database, "credits.low")
    async with httpx.AsyncClient(timeout=0.5) as impatient:
        await deliver(database, settings, impatient)
    assert await _deliveries(database) == [("pending", 1, None)]
    assert await _attempts(database) == [(None, "no answer within 0.5 s")]


async def test_after_the_last_retry_the_delivery_fails_and_an_alert_is_raised(
    database: Database,
    settings: Settings,
    http: httpx.AsyncClient,
    platform: Receiver,
    clock: Clock,
) -> None:
    await _endpoint(database, settings, platform.url, ["*"])
    platform.answers = [503] * (len(BACKOFF) + 1)
    await _emit(database, "topup.failed")
    alerts = ALERTS.labels("webhook_delivery_failed")._value.get()
    for wait in (timedelta(0), *BACKOFF):
        clock.offset += wait
        assert await deliver(database, settings, http) == 1
    assert await _deliveries(database) == [("failed", len(BACKOFF) + 1, 503)]
    assert sum(BACKOFF, timedelta(0)) > timedelta(days=3)
    assert ALERTS.labels("webhook_delivery_failed")._value.get() == alerts + 1
    clock.offset += timedelta(days=30)
    assert await deliver(database, settings, http) == 0


async def test_a_rotated_secret_signs_beside_the_new_one_for_a_day(
    database: Database,
    settings: Settings,
    http: httpx.AsyncClient,
    platform: Receiver,
    clock: Clock,
) -> None:
    endpoint_id, old = await _endpoint(database, settings, platform.url, ["*"])
    async with database.sessions() as session:
        _, new = await service.rotate_secret(session, settings, endpoint_id, actor="test")
    await _emit(database, "credits.low")
    await deliver(database, settings, http)  # within the day
    clock.offset = timedelta(hours=24, seconds=1)
    await _emit(database, "credits.depleted")
    await deliver(database, settings, http)  # after it
    first, second = platform.received
    assert _verifies(old, first.body, first.headers)
    assert _verifies(new, first.body, first.headers)
    assert not _verifies(old, second.body, second.headers)
    assert _verifies(new, second.body, second.headers)


async def test_production_will_not_send_to_this_machine_even_if_saved_before(
    database: Database, settings: Settings, http: httpx.AsyncClient, platform: Receiver
) -> None:
    await _endpoint(database, settings, platform.url, ["*"])  # development took it
    await _emit(database, "credits.low")
    production = settings.model_copy(update={"BILLING_ENV": "production"})
    await deliver(database, production, http)
    assert platform.received == []
    [(status, error)] = await _attempts(database)
    assert status is None
    assert error is not None
    assert error.startswith("refused: the URL must start with https://")


async def test_an_attempt_whose_worker_died_is_made_again_after_its_lease(
    database: Database,
    settings: Settings,
    http: httpx.AsyncClient,
    platform: Receiver,
    clock: Clock,
) -> None:
    """A worker killed after claiming (before any answer) leaves the delivery to another
    once the lease ends: sent again with the same id, never twice within one attempt."""
    await _endpoint(database, settings, platform.url, ["*"])
    await _emit(database, "credits.low")
    await fan_out(database)
    [claimed] = await claim(database, settings)  # and this worker dies now
    assert await deliver(database, settings, http) == 0  # leased: nobody else sends it
    clock.offset = LEASE
    assert await deliver(database, settings, http) == 1
    assert platform.ids() == [claimed.message.message_id]
    assert await _deliveries(database) == [("delivered", 2, 200)]


async def test_workers_share_the_outbox_and_send_each_message_once(
    database: Database, settings: Settings, http: httpx.AsyncClient, platform: Receiver
) -> None:
    await _endpoint(database, settings, platform.url, ["*"])
    sent = {await _emit(database, "credits.low", user_id=n) for n in range(60)}
    while sum(await asyncio.gather(*(deliver(database, settings, http) for _ in range(4)))):
        pass
    assert sorted(platform.ids()) == sorted(sent)
    assert {status for status, _, _ in await _deliveries(database)} == {"delivered"}
