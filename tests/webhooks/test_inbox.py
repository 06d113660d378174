"""Deliveries that arrive while others are being written are stored together (group
commit, see tests/db/test_group_commit.py), each answered new or duplicate as if alone."""

from __future__ import annotations

import asyncio
from datetime import datetime

from billing.core.times import utcnow
from billing.db import group_commit
from billing.db.engine import Database
from billing.webhooks import inbox
from tests.support.stripe_events import stripe_event
from tests.support.transactions import another_transaction


def event(event_id: str) -> inbox.StripeEvent:
    return inbox.parse_event(stripe_event(id=event_id))


async def received_at(database: Database) -> dict[str, datetime]:
    async with database.driver_connection() as connection:
        rows = await connection.fetch("SELECT stripe_event_id, received_at FROM webhook_events")
    return {row["stripe_event_id"]: row["received_at"] for row in rows}


async def test_deliveries_queued_behind_those_in_flight_are_stored_in_one_statement(
    pg: Database,
) -> None:
    assert await inbox.store(pg, event("evt_old"))
    async with another_transaction(pg) as holder:
        # An uncommitted evt_held: deliveries of it wait to learn whether it commits.
        await holder.connection.execute(inbox.INSERT_ONCE, *inbox._row(event("evt_held")), utcnow())
        in_flight = [
            asyncio.ensure_future(inbox.store(pg, event("evt_held")))
            for _ in range(group_commit.IN_FLIGHT)
        ]
        await holder.a_writer_waits()
        queued = [
            asyncio.ensure_future(inbox.store(pg, event(event_id)))
            for event_id in ("evt_b", "evt_a", "evt_b", "evt_old", "evt_c")
        ]
        await holder.a_writer_waits()  # a round trip: the deliveries above have queued
    assert await asyncio.gather(*in_flight) == [False] * group_commit.IN_FLIGHT
    assert await asyncio.gather(*queued) == [True, True, False, False, True]
    stored = await received_at(pg)
    assert sorted(stored) == ["evt_a", "evt_b", "evt_c", "evt_held", "evt_old"]
    assert stored["evt_a"] == stored["evt_b"] == stored["evt_c"]  # one statement's `now`
    assert inbox.DELIVERIES.idle(pg)
