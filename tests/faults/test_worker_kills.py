"""Workers SIGKILLed at random while 1,000 deliveries (redeliveries, replays and events out
of order included) are processed on PostgreSQL: in the end, every acknowledged event's
effect is in the ledger, the payments and the subscription mirror exactly once.

The seed is printed (pytest shows it on failure); `FAULT_SEED=<seed>` replays the same
deliveries and kill timings (process scheduling still varies)."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from billing.catalog.service import apply_price, snapshot_time
from billing.core.config import Settings
from billing.credits.verify import verify_ledger
from billing.db.engine import Database
from billing.payments.models import Payment, Subscription
from tests.conftest import WEBHOOK_SECRET, asgi_client
from tests.faults.event_mix import build, event_ids, out_of_order
from tests.faults.killer import Workers
from tests.faults.oracle import Expected, expected_from
from tests.support.stripe_events import sign
from tests.support.worker import (
    ONLY_POSTGRES,
    file_events,
    inbox_rows,
    make_failed_due,
    status_counts,
    wallet_balances,
)

pytestmark = pytest.mark.serial  # workers killed at random: timed, alone

BACKLOG = 300  # deliveries filed as the workers start; the rest stream in, in chunks
CHUNK = 120
DRAIN_SECONDS = 120  # a hang, not a slow run
MIN_KILLS = 6  # one before each chunk


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


async def deliver(http: httpx.AsyncClient, bodies: list[bytes]) -> list[bytes]:
    """POST each body to the webhook route, signed as Stripe signs; those acknowledged."""
    acknowledged = []
    for body in bodies:
        headers = {"Stripe-Signature": sign(body, WEBHOOK_SECRET)}
        response = await http.post("/api/stripe/webhook", content=body, headers=headers)
        assert response.status_code == 200, response.text
        acknowledged.append(body)
        await asyncio.sleep(0)  # let the killer run between deliveries
    return acknowledged


async def drain(database: Database) -> None:
    """Wait until nothing is pending or failed. Events that failed for want of an earlier
    one are made due once every delivery is taken, instead of waiting out their backoff."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while (counts := await status_counts(database)).keys() - {"processed"}:
        assert "dead" not in counts, f"events gave up: {counts}"
        assert time.monotonic() < deadline, f"not drained in {DRAIN_SECONDS}s: {counts}"
        if counts.get("failed") and not counts.get("pending"):
            await make_failed_due(database)
        await asyncio.sleep(0.2)


async def stream_and_drain(
    route: Settings, database: Database, deliveries: list[bytes], workers: Workers
) -> list[bytes]:
    """Deliver the stream in chunks with a kill before each, so that however slowly the
    workers start, kills keep landing while events keep coming; then drain the inbox."""
    streamed: list[bytes] = []
    async with asgi_client(route) as http:
        for kills, start in enumerate(range(BACKLOG, len(deliveries), CHUNK), start=1):
            await workers.kills_reach(kills)
            streamed += await deliver(http, deliveries[start : start + CHUNK])
    await drain(database)
    return streamed


async def observed_payments(database: Database) -> dict[str, tuple[int, int, int]]:
    async with database.sessions() as session:
        rows = (await session.scalars(select(Payment))).all()
    assert {(row.status, row.credits_unrecovered) for row in rows} == {("succeeded", 0)}
    return {r.stripe_id: (r.credits, r.amount_refunded, r.credits_clawed_back) for r in rows}


async def observed_quantities(database: Database) -> dict[str, int]:
    async with database.sessions() as session:
        rows = (await session.scalars(select(Subscription))).all()
    return {row.stripe_subscription_id: row.quantity for row in rows}


async def assert_each_effect_once(database: Database, expected: Expected) -> None:
    rows = await inbox_rows(database)
    assert len(rows) == expected.events
    assert {row.status for row in rows} == {"processed"}
    assert await wallet_balances(database) == expected.balances()
    assert await observed_payments(database) == expected.payments()
    assert await observed_quantities(database) == expected.quantities()
    async with database.sessions() as session, session.begin():
        report = await verify_ledger(session)
    assert report.ok, report.failures


def assert_disorder(deliveries: list[bytes]) -> None:
    """The premise: the stream holds redeliveries, refunds before their payment and
    subscription states older than one already delivered."""
    ids = event_ids(deliveries)
    assert len(ids) - len(set(ids)) > 100, "too few redeliveries"
    everything = expected_from(deliveries)
    assert len(everything.paid) > 250, "too few payments"
    assert len(everything.refunded) > 50, "too few refunds"
    early_refunds, stale_states = out_of_order(deliveries)
    assert early_refunds > 5, "no refund arrives before its payment"
    assert stale_states > 3, "no subscription state arrives after a newer one"


@ONLY_POSTGRES
async def test_workers_killed_at_random_leave_each_acknowledged_effect_once(
    database: Database, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("FAULT_SEED") or random.randrange(2**32))
    print(f"FAULT_SEED={seed}")
    rng = random.Random(seed)
    mix = build(rng)
    assert_disorder(mix.deliveries)
    async with database.sessions() as session, session.begin():
        await apply_price(session, mix.plan, snapshot_time())
    route = settings.model_copy(update={"STRIPE_WEBHOOK_SECRET": SecretStr(WEBHOOK_SECRET)})
    started = time.monotonic()
    with Workers(database_url, tmp_path, rng) as workers:
        await file_events(database, settings, mix.deliveries[:BACKLOG])
        streamed = await workers.during(stream_and_drain(route, database, mix.deliveries, workers))
        await workers.stop()
    attempts = Counter(row.attempts for row in await inbox_rows(database))
    print(f"kills={workers.kills} seconds={time.monotonic() - started:.1f} attempts={attempts}")
    await assert_each_effect_once(database, expected_from(mix.deliveries[:BACKLOG] + streamed))
    assert workers.kills >= MIN_KILLS, "the killer hardly struck"
