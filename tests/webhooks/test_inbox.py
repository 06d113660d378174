"""Deliveries that arrive while others are being written are stored together (group
commit, see tests/db/test_group_commit.py), each answered new or duplicate as if alone."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from billing.core.times import utcnow
from billing.db import group_commit
from billing.db.engine import Database
from billing.webhooks import inbox
from billing.webhooks.personal_fields import SEALED
from tests.support.stripe_events import FILING, stripe_event
from tests.support.transactions import another_transaction

# Money paths: on PostgreSQL, also through PgBouncer in transaction pooling.
pytestmark = pytest.mark.pgbouncer


def event(event_id: str) -> inbox.StripeEvent:
    return inbox.parse_event(stripe_event(id=event_id), FILING)


async def received_at(database: Database) -> dict[str, datetime]:
    async with database.driver_connection() as connection:
        rows = await connection.fetch("SELECT stripe_event_id, received_at FROM webhook_events")
    return {row["stripe_event_id"]: row["received_at"] for row in rows}


async def batched(pg: Database, events: list[inbox.StripeEvent]) -> list[bool]:
    """Store `events` while the deliveries in flight wait on an uncommitted evt_held, so
    they queue and go together, in one statement; each one's answer."""
    async with another_transaction(pg) as holder:
        # An uncommitted evt_held: deliveries of it wait to learn whether it commits.
        await holder.connection.execute(inbox.INSERT_ONCE, *inbox._row(event("evt_held")), utcnow())
        in_flight = [
            asyncio.ensure_future(inbox.store(pg, event("evt_held")))
            for _ in range(group_commit.IN_FLIGHT)
        ]
        await holder.a_writer_waits()
        queued = [asyncio.ensure_future(inbox.store(pg, each)) for each in events]
        await holder.a_writer_waits()  # a round trip: the deliveries above have queued
    assert await asyncio.gather(*in_flight) == [False] * group_commit.IN_FLIGHT
    return list(await asyncio.gather(*queued))


async def test_deliveries_queued_behind_those_in_flight_are_stored_in_one_statement(
    pg: Database,
) -> None:
    assert await inbox.store(pg, event("evt_old"))
    queued = [event(event_id) for event_id in ("evt_b", "evt_a", "evt_b", "evt_old", "evt_c")]
    assert await batched(pg, queued) == [True, True, False, False, True]
    stored = await received_at(pg)
    assert sorted(stored) == ["evt_a", "evt_b", "evt_c", "evt_held", "evt_old"]
    assert stored["evt_a"] == stored["evt_b"] == stored["evt_c"]  # one statement's `now`
    assert inbox.DELIVERIES.idle(pg)


def about(customer_id: str) -> inbox.StripeEvent:
    """A `customer.updated` of `customer_id`, with its email."""
    customer = {"object": "customer", "id": customer_id, "email": f"{customer_id}@example.com"}
    return inbox.parse_event(stripe_event("customer.updated", data={"object": customer}), FILING)


async def test_events_of_an_erased_customer_are_stored_scrubbed_alone_or_batched(
    pg: Database,
) -> None:
    async with pg.driver_connection() as connection:
        await connection.execute(
            "INSERT INTO stripe_customers (user_id, stripe_customer_id, created_at, erased_at)"
            " VALUES (1, 'cus_gone', now(), now()), (2, 'cus_here', now(), NULL)"
        )
    alone = about("cus_gone")
    assert await inbox.store(pg, alone)
    together = [about("cus_gone"), about("cus_here"), about("cus_unknown")]
    assert await batched(pg, together) == [True] * 3
    async with pg.driver_connection() as connection:
        rows = await connection.fetch(
            "SELECT stripe_event_id, payload->'data'->'object'->'email' AS email"
            " FROM webhook_events WHERE type = 'customer.updated'"
        )
    emails = {row["stripe_event_id"]: row["email"] for row in rows}  # JSONB decoded
    assert emails[alone.id] is None
    assert emails[together[0].id] is None
    assert set(emails[together[1].id]) == set(emails[together[2].id]) == {SEALED}
