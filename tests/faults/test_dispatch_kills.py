"""Dispatcher workers SIGKILLed at random while they send 1,000 messages to a slow receiver
on PostgreSQL, then left to finish: in the end every message is delivered, and no
delivery was sent more times than it was claimed (a killed worker's attempt is made
again, with the same `webhook-id`, only once its lease has run out).

The seed is printed (pytest shows it on failure); `FAULT_SEED=<seed>` replays the same
kill timings (process scheduling still varies)."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from billing.core.config import Settings
from billing.db import outbox
from billing.db.engine import Database
from billing.db.outbox import OutboxMessage
from billing.outbound import service
from billing.outbound.dispatcher import LEASE
from billing.outbound.models import DELIVERED, WebhookDelivery
from tests.faults.killer import Workers
from tests.support.receiver import receiver
from tests.support.worker import ONLY_POSTGRES

pytestmark = pytest.mark.serial  # workers killed at random: timed, alone

MESSAGES = 1000
ANSWER_DELAY = 0.2  # seconds: slow enough that kills land mid-request
DRAIN_SECONDS = LEASE.total_seconds() + 60  # a killed attempt waits out its lease
MIN_KILLS = 3


async def _delivered(database: Database) -> int:
    async with database.sessions() as session:
        query = select(func.count()).where(WebhookDelivery.status == DELIVERED)
        return int(await session.scalar(query) or 0)


async def _all_delivered(database: Database) -> None:
    deadline = time.monotonic() + DRAIN_SECONDS
    while await _delivered(database) < MESSAGES:
        assert time.monotonic() < deadline, f"{await _delivered(database)} delivered"
        await asyncio.sleep(0.2)


@ONLY_POSTGRES
async def test_killed_dispatchers_lose_nothing_and_send_nothing_twice_in_one_attempt(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("FAULT_SEED") or random.randrange(2**32))
    print(f"FAULT_SEED={seed}")
    assert tmp_path == settings.BILLING_DATA_DIR  # the workers' too: one encryption key
    database = Database(settings)
    async with receiver() as platform:
        platform.delay = ANSWER_DELAY
        async with database.sessions() as session:
            await service.create(
                session, settings, url=platform.url, events=["*"], description=None, actor="test"
            )
        async with database.sessions() as session, session.begin():
            for n in range(MESSAGES):
                outbox.write(session, "credits.low", {"n": n}, n)
        with Workers(database_url, tmp_path, random.Random(seed)) as workers:
            await workers.during(workers.kills_reach(MIN_KILLS))  # then the killer stops
            await _all_delivered(database)
            await workers.stop()
        async with database.sessions() as session:
            sent = set((await session.scalars(select(OutboxMessage.message_id))).all())
            claimed = dict(
                (
                    await session.execute(
                        select(OutboxMessage.message_id, WebhookDelivery.attempts).join(
                            WebhookDelivery, WebhookDelivery.message_id == OutboxMessage.id
                        )
                    )
                ).all()
            )
    await database.dispose()
    received = Counter(platform.ids())
    assert set(received) == sent
    assert all(received[message] <= claimed[message] for message in sent)
    assert workers.kills >= MIN_KILLS
