"""`billing reconcile` against the Stripe sandbox: missed deliveries are filed, once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from sqlalchemy import select
from typer.testing import CliRunner

from billing.core.config import Settings
from billing.db.engine import Database
from billing.runtime.cli import app
from billing.stripe.paging import PAGE_SIZE
from billing.webhooks.models import WebhookEvent
from billing.webhooks.personal_fields import opened
from billing.webhooks.reconcile import SAFETY_MARGIN, Progress, reconcile_events
from tests.conftest import sandbox_process
from tests.support.database_text import occurrences
from tests.support.sandbox_process import Sandbox
from tests.support.stripe_events import stripe_event
from tests.support.worker import file_events


@pytest.fixture(scope="module")
def stripe_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox of this module's own: these tests list every event the sandbox keeps,
    and the session's, filled by every other test, makes each listing take many seconds."""
    yield from sandbox_process(tmp_path_factory, "reconcile-sandbox")


CUSTOMER_NAME = "Reconciled Customer"


def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def cli_env(settings: Settings, sandbox: Sandbox) -> dict[str, str]:
    """The environment `billing reconcile` runs with against the test's database and sandbox."""
    return {
        "DATABASE_URL": settings.DATABASE_URL,
        "BILLING_DATA_DIR": str(settings.BILLING_DATA_DIR),
        "BILLING_ENV": "development",
        "STRIPE_SECRET_KEY": "sk_test_sandbox",
        "STRIPE_API_BASE": sandbox.url,
    }


def make_events(sandbox: Sandbox) -> str:
    """A customer, then a change to it: two events at least; the customer id."""
    customer = sandbox.client.v1.customers.create(params={"metadata": {"billing_user_id": "77"}})
    sandbox.client.v1.customers.update(customer.id, params={"name": CUSTOMER_NAME})
    return customer.id


def stripe_event_ids(sandbox: Sandbox) -> list[str]:
    """Every event the sandbox keeps, newest first, as Stripe lists them."""
    listed = sandbox.client.v1.events.list(params={"limit": 100}).auto_paging_iter()
    return [event.id for event in listed]


async def inbox_ids(database: Database) -> set[str]:
    async with database.autocommit() as connection:
        return set(await connection.scalars(select(WebhookEvent.stripe_event_id)))


async def stored_payloads(database: Database) -> dict[str, Any]:
    async with database.sessions() as session:
        rows = await session.scalars(select(WebhookEvent))
        return {row.stripe_event_id: row.payload for row in rows}


async def test_an_empty_inbox_gets_every_event_once_exactly_as_stripe_sends_it(
    stripe_database: Database,
    stripe_api: stripe.StripeClient,
    stripe_sandbox: Sandbox,
    stripe_settings: Settings,
) -> None:
    for _ in range(PAGE_SIZE // 2 + 1):  # more than a page of events
        customer_id = make_events(stripe_sandbox)
    expected = stripe_event_ids(stripe_sandbox)
    assert len(expected) > PAGE_SIZE
    pages: list[Progress] = []
    done = await reconcile_events(stripe_database, stripe_settings, stripe_api, pages.append)
    assert (done.since, done.seen, done.inserted) == (None, len(expected), len(expected))
    assert done.pages == len(pages) == -(-len(expected) // PAGE_SIZE)
    assert [p.pages for p in pages] == list(range(1, done.pages + 1))
    assert await inbox_ids(stripe_database) == set(expected)
    # The stored body is the event as Stripe serves it (and so as a webhook carries it),
    # its personal fields encrypted as the webhook route stores them.
    stored = await stored_payloads(stripe_database)
    assert await occurrences(stripe_database, CUSTOMER_NAME) == []
    with stripe_sandbox.http() as http:
        for event_id in expected[:20]:
            served = http.get(f"/v1/events/{event_id}").json()
            assert opened(stripe_settings, stored[event_id]) == served
    stored = {key: opened(stripe_settings, value) for key, value in stored.items()}
    ours = {e["type"] for e in stored.values() if e["data"]["object"]["id"] == customer_id}
    assert ours == {"customer.created", "customer.updated"}
    rows = await _rows(stripe_database)
    assert {(row.status, row.attempts) for row in rows} == {("pending", 0)}

    again = await reconcile_events(stripe_database, stripe_settings, stripe_api)
    assert again.inserted == 0
    assert again.since is not None
    assert again.seen >= 1


async def _rows(database: Database) -> list[WebhookEvent]:
    async with database.sessions() as session:
        return list(await session.scalars(select(WebhookEvent)))


async def test_only_what_was_missed_is_filed(
    stripe_database: Database,
    stripe_api: stripe.StripeClient,
    stripe_sandbox: Sandbox,
    stripe_settings: Settings,
) -> None:
    make_events(stripe_sandbox)  # whichever tests ran before, the inbox is not empty
    await reconcile_events(stripe_database, stripe_settings, stripe_api)
    before = set(stripe_event_ids(stripe_sandbox))
    make_events(stripe_sandbox)
    missed = [e for e in stripe_event_ids(stripe_sandbox) if e not in before]
    assert len(missed) >= 2
    done = await reconcile_events(stripe_database, stripe_settings, stripe_api)
    assert done.inserted == len(missed)
    assert done.since is not None
    assert done.since <= datetime.now(UTC) - SAFETY_MARGIN + timedelta(seconds=5)
    assert await inbox_ids(stripe_database) == before | set(missed)


async def test_the_window_starts_at_the_newest_inbox_event_less_the_margin(
    stripe_database: Database,
    stripe_api: stripe.StripeClient,
    stripe_sandbox: Sandbox,
    stripe_settings: Settings,
) -> None:
    """An inbox whose newest event is two hours ahead lists only from an hour ahead:
    the sandbox's present events are outside the window."""
    make_events(stripe_sandbox)
    ahead = int(time.time()) + 2 * 3600
    await file_events(
        stripe_database, stripe_settings, [stripe_event("customer.updated", created=ahead)]
    )
    done = await reconcile_events(stripe_database, stripe_settings, stripe_api)
    assert done.since == datetime.fromtimestamp(ahead, UTC) - SAFETY_MARGIN
    assert (done.seen, done.inserted) == (0, 0)
    wider = await reconcile_events(
        stripe_database, stripe_settings, stripe_api, margin=timedelta(hours=3)
    )
    assert wider.inserted >= 2


async def test_days_recovers_a_gap_before_a_later_delivery(
    stripe_database: Database,
    stripe_api: stripe.StripeClient,
    stripe_sandbox: Sandbox,
    stripe_settings: Settings,
) -> None:
    """Events missed before the newest delivery less the margin are outside the default
    window for good; a scan of the last days files them, once."""
    make_events(stripe_sandbox)
    missed = set(stripe_event_ids(stripe_sandbox))
    later = stripe_event("customer.updated", created=int(time.time()) + 2 * 3600)
    await file_events(stripe_database, stripe_settings, [later])
    assert (await reconcile_events(stripe_database, stripe_settings, stripe_api)).inserted == 0

    started = datetime.now(UTC)
    done = await reconcile_events(stripe_database, stripe_settings, stripe_api, days=3)
    assert done.since is not None
    assert abs(done.since - (started - timedelta(days=3))) < timedelta(seconds=5)
    assert done.inserted >= len(missed)
    assert missed <= await inbox_ids(stripe_database)
    again = await reconcile_events(stripe_database, stripe_settings, stripe_api, days=3)
    assert (again.inserted, again.seen) == (0, done.seen)


def test_the_command_prints_its_progress(
    stripe_settings: Settings, stripe_sandbox: Sandbox
) -> None:
    make_events(stripe_sandbox)
    count = len(stripe_event_ids(stripe_sandbox))
    env = cli_env(stripe_settings, stripe_sandbox)
    code, out, err = invoke(env, "reconcile")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith(f"page 1: {min(count, 100)} events seen, {min(count, 100)} inserted")
    assert lines[-1].endswith(
        f": {count} events seen on {-(-count // 100)} pages, {count} missing and now filed"
    )
    code, out, _ = invoke(env, "reconcile")
    assert code == 0
    assert out.splitlines()[-1].endswith(" 0 missing and now filed")


def test_the_command_scans_the_last_days(
    stripe_settings: Settings, stripe_sandbox: Sandbox
) -> None:
    make_events(stripe_sandbox)
    count = len(stripe_event_ids(stripe_sandbox))
    env = cli_env(stripe_settings, stripe_sandbox)
    code, out, err = invoke(env, "reconcile", "--days", "3")
    assert code == 0, err
    assert out.splitlines()[0] == "listing Stripe events of the last 3 days"
    assert out.splitlines()[-1].endswith(f" {count} missing and now filed")
    for refused in (["--days", "31"], ["--days", "0"], ["--days", "3", "--margin-hours", "2"]):
        code, _, err = invoke(env, "reconcile", *refused)
        assert code == 2, refused


def test_the_command_needs_a_stripe_key(stripe_settings: Settings) -> None:
    env = {"DATABASE_URL": stripe_settings.DATABASE_URL, "BILLING_ENV": "development"}
    code, _, err = invoke(env, "reconcile")
    assert code == 2
    assert "STRIPE_SECRET_KEY is not set" in err
