"""Delivery faults end to end: duplicates and reordering, a database outage during a
delivery, and a handler that fails until the data it needs exists."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url

from tests.conftest import POSTGRES_URL, SANDBOX_SECRET_KEY
from tests.e2e.conftest import Live
from tests.support.flows import (
    checkout,
    create_checkout,
    link_customer,
    pay,
    price,
    subscriptions,
    transactions,
)
from tests.support.sandbox import wait_for
from tests.support.server import running_server
from tests.support.stripe_events import sign

REPLAY_SECRET = "whsec_replayed"
INVOICE_PAID = ("invoice.paid", "invoice.payment_succeeded")


@pytest.fixture
def second_service(migrated: dict[str, str], tmp_path: Path, live: Live) -> Iterator[Live]:
    """Another service on its own SQLite database, fed by hand instead of by the sandbox."""
    path = tmp_path / "second.db"
    shutil.copy(migrated["sqlite"], path)
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{path}",
        "BILLING_DATA_DIR": str(tmp_path / "second"),
        "BILLING_ENV": "development",
        "BILLING_RUN_WORKER": "true",
        "STRIPE_API_BASE": live.sandbox.url,
        "STRIPE_SECRET_KEY": SANDBOX_SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": REPLAY_SECRET,
    }
    with running_server(env) as url:
        yield Live(url, live.settings, live.stripe, live.sandbox)


def sandbox_events(live: Live, since: int) -> list[dict[str, Any]]:
    """Every event the sandbox raised since `since`, oldest first, as its JSON (as sent)."""
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"created[gte]": since, "limit": 100}
    with live.sandbox.http() as http:
        while True:
            page = http.get("/v1/events", params=params).json()
            events += page["data"]
            if not page["has_more"]:
                return list(reversed(events))
            params["starting_after"] = page["data"][-1]["id"]


def deliver(service: Live, event: dict[str, Any]) -> httpx.Response:
    body = json.dumps(event).encode()
    with service.http() as http:
        return http.post(
            "/api/stripe/webhook",
            content=body,
            headers={"Stripe-Signature": sign(body, REPLAY_SECRET)},
        )


def test_every_event_twice_and_in_reverse_order_gives_the_same_state(
    live: Live, second_service: Live
) -> None:
    user = 201
    since = int(time.time()) - 1
    top_up = price(live.stripe, 700, 700, monthly=False)
    plan = price(live.stripe, 1500, 2000, monthly=True)
    paid = checkout(live, user, top_up.id, "payment")
    checkout(live, user, plan.id, "subscription")
    live.wait_balance(user, 2700)
    live.stripe.v1.refunds.create({"payment_intent": paid.payment_intent, "amount": 350})
    live.wait_balance(user, 2350)
    wait_for(lambda: not live.inbox("pending"), timeout=20)

    events = sandbox_events(live, since)
    assert len(events) > 5
    for event in [*reversed(events), *reversed(events)]:
        assert deliver(second_service, event).status_code == 200
    second_service.wait_balance(user, 2350)
    wait_for(lambda: not second_service.inbox("pending"), timeout=30)
    assert not second_service.inbox("failed")
    assert second_service.balance(user) == live.balance(user)

    def ledger(service: Live) -> list[tuple[str, int]]:
        return sorted((t["kind"], t["amount"]) for t in transactions(service, user))

    assert ledger(second_service) == ledger(live)
    mirror = [(s["id"], s["status"]) for s in subscriptions(second_service, user)]
    assert mirror == [(s["id"], s["status"]) for s in subscriptions(live, user)]


def _set_connections(url: str, allowed: bool) -> None:
    """Open or shut the test database to new connections, dropping the current ones."""

    name = make_url(url).database
    admin = make_url(url).set(drivername="postgresql", database="postgres")

    async def run() -> None:
        connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            await connection.execute(
                f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}'
            )
            if not allowed:
                await connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = $1 AND pid <> pg_backend_pid()",
                    name,
                )
        finally:
            await connection.close()

    asyncio.run(run())


@pytest.mark.skipif(
    not POSTGRES_URL, reason="needs TEST_POSTGRES_URL: the outage is staged on PostgreSQL"
)
def test_a_delivery_during_a_database_outage_is_retried_and_processed(
    live: Live, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("an outage of an embedded SQLite file cannot be staged under a live server")
    user = 202
    top_up = price(live.stripe, 900, 900, monthly=False)
    session = create_checkout(live, user, top_up.id, "payment")
    _set_connections(database_url, allowed=False)
    try:
        pay(session)
        time.sleep(1.0)  # the sandbox's first deliveries meet a 503
    finally:
        _set_connections(database_url, allowed=True)
    live.wait_balance(user, 900, timeout=40)


def test_a_failing_handler_is_retried_and_then_processed(live: Live, database_url: str) -> None:
    """A renewal paid for a customer the service cannot place yet fails, and succeeds once
    the customer is linked and the event is replayed."""
    user = 203
    plan = price(live.stripe, 1200, 1500, monthly=True)
    customer = live.stripe.v1.customers.create({"payment_method": "pm_card_visa"})
    live.stripe.v1.customers.update(
        customer.id, {"invoice_settings": {"default_payment_method": "pm_card_visa"}}
    )
    subscription = live.stripe.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": plan.id}]}
    )
    invoice_id = str(subscription.latest_invoice)

    def failed_invoice_events() -> list[dict[str, Any]]:
        return [
            e
            for e in live.inbox("failed")
            if e["type"] in ("invoice.paid", "invoice.payment_succeeded")
        ]

    failed = wait_for(failed_invoice_events, timeout=20)
    assert live.balance(user) == 0
    link_customer(database_url, user, customer.id)
    with live.http() as http:
        for event in failed:
            reply = http.post(f"/api/admin/webhooks/{event['id']}/replay", headers=live.admin())
            assert reply.status_code == 200, reply.text
    live.wait_balance(user, 1500)
    assert [t["reference"] for t in transactions(live, user)] == [invoice_id]
