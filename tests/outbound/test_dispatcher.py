"""The dispatcher against a real receiver on this machine: what it is sent, signed as the
Standard Webhooks library checks, and how it retries, gives up and shares the work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, text
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from billing.core.config import Settings
from billing.core.times import Clock
from billing.db import outbox
from billing.db.engine import Database
from billing.obs.metrics import ALERTS
from billing.outbound import service
from billing.outbound.dispatcher import BACKOFF, LEASE, claim, deliver, fan_out, more_to_do
from billing.outbound.models import WebhookAttempt, WebhookDelivery
from billing.outbound.sending import client as http_client
from tests.conftest import Credentials
from tests.credits.test_watch import set_threshold
from tests.support.credits import add, spend
from tests.support.receiver import HANG, Receiver, receiver

# Money paths: on PostgreSQL, also through PgBouncer in transaction pooling.
pytestmark = pytest.mark.pgbouncer


@dataclass
class Dispatching:
    """The service's database (without the app, whose worker would dispatch too), an HTTP
    client to send with, and the platform's receiver."""

    database: Database
    settings: Settings
    http: httpx.AsyncClient
    platform: Receiver

    async def deliver(self) -> int:
        return await deliver(self.database, self.settings, self.http)


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Dispatching]:
    database = Database(settings)
    async with http_client() as http, receiver() as platform:
        yield Dispatching(database, settings, http, platform)
    await database.dispose()


async def _endpoint(world: Dispatching, path: str = "", events: str = "*") -> tuple[int, str]:
    async with world.database.sessions() as session:
        endpoint, secret = await service.create(
            session,
            world.settings,
            url=world.platform.url + path,
            events=[events],
            description=None,
            actor="test",
        )
    return endpoint.id, secret


async def _emit(world: Dispatching, type_: str, user_id: int = 7, commit: bool = True) -> str:
    """A message written in a transaction that commits (or rolls back); its id."""
    async with world.database.sessions() as session:
        transaction = await session.begin()
        written = outbox.write(session, type_, {"credits": {"balance": 5}}, user_id)
        await session.flush()
        await (transaction.commit() if commit else transaction.rollback())
    return written.message_id


async def _deliveries(world: Dispatching) -> list[tuple[str, int, int | None]]:
    async with world.database.sessions() as session:
        rows = await session.execute(
            select(
                WebhookDelivery.status, WebhookDelivery.attempts, WebhookDelivery.last_status_code
            ).order_by(WebhookDelivery.id)
        )
        return [(status, attempts, code) for status, attempts, code in rows]


async def _attempts(world: Dispatching) -> list[tuple[int | None, str | None]]:
    async with world.database.sessions() as session:
        rows = await session.execute(
            select(WebhookAttempt.status_code, WebhookAttempt.error).order_by(WebhookAttempt.id)
        )
        return [(code, error) for code, error in rows]


def _verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


async def test_each_subscribed_endpoint_gets_the_message_signed(world: Dispatching) -> None:
    _, every = await _endpoint(world)
    _, low = await _endpoint(world, "/low", "credits.low")
    await _endpoint(world, "/paid", "payment.failed")
    message_id = await _emit(world, "credits.low")
    await _emit(world, "credits.depleted", commit=False)  # rolled back: never sent

    assert await world.deliver() == 2
    assert await world.deliver() == 0
    assert sorted(world.platform.ids()) == [message_id, message_id]
    secrets = {"/hooks": every, "/hooks/low": low}
    for request in world.platform.received:
        payload = Webhook(secrets.pop(request.path)).verify(request.body, request.headers)
        assert payload["type"] == "credits.low"
        assert payload["data"] == {"user_id": 7, "credits": {"balance": 5}}
        assert request.headers["content-type"] == "application/json"
    assert secrets == {}
    assert await _deliveries(world) == [("delivered", 1, 200), ("delivered", 1, 200)]
    assert await _attempts(world) == [(200, None), (200, None)]


async def test_a_failing_receiver_gets_the_same_message_again_after_the_backoff(
    world: Dispatching, clock: Clock
) -> None:
    await _endpoint(world)
    world.platform.answers = [500]
    await _emit(world, "payment.failed")
    await world.deliver()
    assert await _deliveries(world) == [("pending", 1, 500)]
    clock.offset = BACKOFF[0] - timedelta(seconds=1)
    assert await world.deliver() == 0  # not due yet
    clock.offset = BACKOFF[0]
    assert await world.deliver() == 1
    assert await _deliveries(world) == [("delivered", 2, 200)]
    assert len(set(world.platform.ids())) == 1
    assert len(world.platform.received) == 2
    assert await _attempts(world) == [(500, None), (200, None)]


async def test_a_receiver_that_hangs_is_cut_at_the_timeout_and_retried(
    world: Dispatching,
) -> None:
    await _endpoint(world)
    world.platform.answers = [HANG]
    await _emit(world, "credits.low")
    async with httpx.AsyncClient(timeout=0.5) as impatient:
        await deliver(world.database, world.settings, impatient)
    assert await _deliveries(world) == [("pending", 1, None)]
    assert await _attempts(world) == [(None, "no answer within 0.5 s")]


async def test_after_the_last_retry_the_delivery_fails_and_an_alert_is_raised(
    world: Dispatching, clock: Clock
) -> None:
    await _endpoint(world)
    world.platform.answers = [503] * (len(BACKOFF) + 1)
    await _emit(world, "topup.failed")
    alerts = ALERTS.labels("webhook_delivery_failed")._value.get()
    for wait in (timedelta(0), *BACKOFF):
        clock.offset += wait
        assert await world.deliver() == 1
    assert await _deliveries(world) == [("failed", len(BACKOFF) + 1, 503)]
    assert sum(BACKOFF, timedelta(0)) > timedelta(days=3)
    assert ALERTS.labels("webhook_delivery_failed")._value.get() == alerts + 1
    clock.offset += timedelta(days=30)
    assert await world.deliver() == 0


async def test_a_rotated_secret_signs_beside_the_new_one_for_a_day(
    world: Dispatching, clock: Clock
) -> None:
    endpoint_id, old = await _endpoint(world)
    async with world.database.sessions() as session:
        _, new = await service.rotate_secret(session, world.settings, endpoint_id, actor="test")
    await _emit(world, "credits.low")
    await world.deliver()  # within the day
    clock.offset = timedelta(hours=24, seconds=1)
    await _emit(world, "credits.depleted")
    await world.deliver()  # after it
    first, second = world.platform.received
    assert _verifies(old, first.body, first.headers)
    assert _verifies(new, first.body, first.headers)
    assert not _verifies(old, second.body, second.headers)
    assert _verifies(new, second.body, second.headers)


async def test_production_will_not_send_to_this_machine_even_if_saved_before(
    world: Dispatching,
) -> None:
    await _endpoint(world)  # development took it
    await _emit(world, "credits.low")
    production = world.settings.model_copy(update={"BILLING_ENV": "production"})
    await deliver(world.database, production, world.http)
    assert world.platform.received == []
    [(status, error)] = await _attempts(world)
    assert status is None
    assert error is not None
    assert error.startswith("refused: the URL must start with https://")


async def test_an_attempt_whose_worker_died_is_made_again_after_its_lease(
    world: Dispatching, clock: Clock
) -> None:
    """A worker killed after claiming (before any answer) leaves the delivery to another
    once the lease ends: sent again with the same id, never twice within one attempt."""
    await _endpoint(world)
    await _emit(world, "credits.low")
    await fan_out(world.database)
    [claimed] = await claim(world.database, world.settings)  # and this worker dies now
    assert await world.deliver() == 0  # leased: nobody else sends it
    clock.offset = LEASE
    assert await world.deliver() == 1
    assert world.platform.ids() == [claimed.message.message_id]
    assert await _deliveries(world) == [("delivered", 2, 200)]


async def test_workers_share_the_outbox_and_send_each_message_once(world: Dispatching) -> None:
    await _endpoint(world)
    sent = {await _emit(world, "credits.low", user_id=n) for n in range(60)}
    while sum(await asyncio.gather(*(world.deliver() for _ in range(4)))):
        pass
    assert sorted(world.platform.ids()) == sorted(sent)
    assert {status for status, _, _ in await _deliveries(world)} == {"delivered"}


async def test_a_workers_pass_sends_what_waits_and_then_finds_nothing(world: Dispatching) -> None:
    await _endpoint(world)
    sent = await _emit(world, "credits.low")
    assert not await more_to_do(world.database, world.settings, world.http)  # not a full pass
    assert world.platform.ids() == [sent]
    assert not await more_to_do(world.database, world.settings, world.http)
    assert world.platform.ids() == [sent]
    assert await _deliveries(world) == [("delivered", 1, 200)]


async def test_an_idle_workers_pass_waits_for_no_write_lock(world: Dispatching) -> None:
    """Nothing to fan out or send: the pass answers while another transaction holds
    SQLite's write lock (the process's one write turn), instead of queueing for it."""
    if world.database.dialect != "sqlite":
        pytest.skip("PostgreSQL's pass skips locked rows: another writer never stops it")
    await _endpoint(world)
    async with world.database.sessions() as holder:
        await holder.begin()
        await holder.execute(text("CREATE TABLE turn (n INTEGER)"))  # the write lock, held
        async with asyncio.timeout(2):
            assert not await more_to_do(world.database, world.settings, world.http)
        await holder.rollback()


async def test_a_balance_alert_written_by_a_debit_reaches_the_platform_signed(
    world: Dispatching, client: httpx.AsyncClient, creds: Credentials
) -> None:
    _, secret = await _endpoint(world, events="credits.low")
    await set_threshold(client, creds.admin(), 50, 100)
    await add(client, creds.admin(), 50, 150)
    await spend(client, creds.admin(), 50, 60)
    assert await world.deliver() == 1
    [request] = world.platform.received
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "credits.low"
    assert payload["data"] == {"user_id": 50, "balance": 90, "threshold": 100}
