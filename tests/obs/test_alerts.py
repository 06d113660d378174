"""Alerts: a log line always, a JSON POST to the alert webhook when one is configured."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from billing.core.config import Settings
from billing.core.times import utcnow
from billing.db.engine import Database
from billing.obs.alerts import alert, configure_alerts, drain_alerts
from billing.webhooks.models import WebhookEvent
from billing.webhooks.processing import MAX_ATTEMPTS, process_due
from tests.support.sandbox import Receiver, receiver, wait_for
from tests.support.server import free_port
from tests.support.stripe_events import FILING, stripe_event
from tests.support.worker import file_events, inbox_rows


def configure(url: str | None) -> None:
    configure_alerts(
        Settings(_env_file=None, BILLING_ENV="development", BILLING_ALERT_WEBHOOK_URL=url)
    )


@pytest.fixture
def alerts(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    """A local receiver that answers 500 `param` times (0 unless parametrized)."""
    with receiver(failures=getattr(request, "param", 0)) as received:
        configure(received.url)
        yield received
    configure(None)


def bodies(received: Receiver) -> list[dict[str, Any]]:
    with received.lock:
        return [json.loads(delivery.body) for delivery in received.deliveries]


async def test_an_alert_is_logged_and_posted_as_json(alerts: Receiver) -> None:
    before = REGISTRY.get_sample_value("billing_alerts_total", {"kind": "payment_failed"}) or 0
    with capture_logs() as logs:
        alert("payment_failed", invoice_id="in_1", amount=1500, user_id=None)
        await drain_alerts()
    [body] = bodies(alerts)
    assert body["kind"] == "payment_failed"
    assert body["details"] == {"invoice_id": "in_1", "amount": 1500, "user_id": None}
    assert abs(datetime.fromisoformat(body["at"]) - datetime.now(UTC)) < timedelta(seconds=5)
    assert logs[0]["log_level"] == "error"
    assert (logs[0]["alert"], logs[0]["details"]["invoice_id"]) == ("payment_failed", "in_1")
    after = REGISTRY.get_sample_value("billing_alerts_total", {"kind": "payment_failed"})
    assert after == before + 1


async def test_alert_returns_before_the_post_is_sent(alerts: Receiver) -> None:
    alert("slow_receiver")
    assert bodies(alerts) == []  # nothing sent yet: the caller was not made to wait
    await drain_alerts()
    assert [b["kind"] for b in bodies(alerts)] == ["slow_receiver"]


@pytest.mark.parametrize("alerts", [1], indirect=True)
async def test_a_failing_receiver_is_logged_never_raised(alerts: Receiver) -> None:
    with capture_logs() as logs:
        alert("payment_failed", invoice_id="in_2")
        await drain_alerts()
    assert len(bodies(alerts)) == 1
    assert [log["event"] for log in logs] == ["alert", "alert_not_delivered"]
    assert logs[1]["error"] == "HTTPStatusError"


async def test_an_unreachable_receiver_is_logged_never_raised() -> None:
    configure(f"http://127.0.0.1:{free_port()}/alerts")
    try:
        with capture_logs() as logs:
            alert("payment_failed")
            await drain_alerts()
    finally:
        configure(None)
    assert [log["event"] for log in logs] == ["alert", "alert_not_delivered"]
    assert logs[1]["error"] == "ConnectError"


def test_an_alert_from_synchronous_code_is_still_sent(alerts: Receiver) -> None:
    alert("from_a_thread", detail="no event loop here")
    wait_for(lambda: bodies(alerts), timeout=5)
    assert bodies(alerts)[0]["details"] == {"detail": "no event loop here"}


async def test_without_a_url_an_alert_is_only_logged() -> None:
    configure(None)
    with capture_logs() as logs:
        alert("payment_failed")
    assert [log["event"] for log in logs] == ["alert"]
    await drain_alerts()  # nothing in flight


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


async def always_fails(session: AsyncSession, event: WebhookEvent) -> None:
    raise RuntimeError("the handler cannot handle this")


async def test_a_dead_event_alerts_once(alerts: Receiver, database: Database) -> None:
    await file_events(database, FILING, [stripe_event("test.broken")])
    for attempt in range(1, MAX_ATTEMPTS + 1):
        async with database.sessions() as session, session.begin():
            await session.execute(update(WebhookEvent).values(next_attempt_at=utcnow()))
        assert await process_due(database, {"test.broken": always_fails}, limit=1) == 1
        await drain_alerts()
        assert len(bodies(alerts)) == (1 if attempt == MAX_ATTEMPTS else 0)
    [event] = await inbox_rows(database)
    assert (event.status, event.attempts) == ("dead", MAX_ATTEMPTS)
    [body] = bodies(alerts)
    assert body["kind"] == "webhook_event_dead"
    assert body["details"] == {
        "event_id": event.stripe_event_id,
        "type": "test.broken",
        "attempts": MAX_ATTEMPTS,
        "error": "RuntimeError: the handler cannot handle this",
    }
