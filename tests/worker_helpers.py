"""Events with a visible effect, and ways to watch the inbox drain, for worker tests."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from billing.credits.models import CreditTransaction
from billing.db import Database
from billing.webhooks import inbox
from billing.webhooks.models import WebhookEvent
from tests.stripe_reference import FIXTURES
from tests.webhooks.helpers import stripe_event


@cache
def _fixture_intent() -> dict[str, Any]:
    intent: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"]["payment_intent"]
    return intent


def topup_event(user_id: int, credits: int) -> bytes:
    """A `payment_intent.succeeded` for a payment-form top-up: its effect is `credits`
    on the user's wallet, granted by the real handler from the server-set metadata."""
    intent = {
        **_fixture_intent(),
        "id": f"pi_{uuid.uuid4().hex[:24]}",
        "status": "succeeded",
        "amount": credits,
        "amount_received": credits,
        "canceled_at": None,
        "last_payment_error": None,
        "next_action": None,
        "latest_charge": f"ch_{uuid.uuid4().hex[:24]}",
        "metadata": {"user_id": str(user_id), "purpose": "topup", "credits": str(credits)},
    }
    return stripe_event("payment_intent.succeeded", data={"object": intent})


async def file_events(database: Database, bodies: list[bytes]) -> None:
    async with database.sessions() as session:
        for body in bodies:
            await inbox.receive(session, inbox.parse_event(body))


async def inbox_rows(database: Database) -> list[WebhookEvent]:
    async with database.sessions() as session:
        query = select(WebhookEvent).order_by(WebhookEvent.id)
        return list((await session.scalars(query)).all())


async def count_done(database: Database) -> int:
    """Events no longer waiting: processed, ignored, failed or dead."""
    query = select(func.count()).where(WebhookEvent.status != inbox.PENDING)
    async with database.autocommit() as connection:
        return int(await connection.scalar(query) or 0)


async def credits_by_user(database: Database) -> dict[int, tuple[int, int]]:
    """Each user's (number of transactions, credits) in the ledger."""
    query = select(
        CreditTransaction.user_id,
        func.count(CreditTransaction.id),
        func.sum(CreditTransaction.amount),
    ).group_by(CreditTransaction.user_id)
    async with database.autocommit() as connection:
        rows = (await connection.execute(query)).all()
    return {int(user): (int(count), int(total)) for user, count, total in rows}


async def wait_until(probe: Callable[[], Awaitable[bool]], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {seconds}s")
        await asyncio.sleep(0.005)


@contextmanager
def worker_process(
    database_url: str, workdir: Path, *args: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`billing worker` as a real process (its output in a file); killed if still running."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BILLING_DATA_DIR": str(workdir),
        "BILLING_ENV": "development",
    }
    command = [sys.executable, "-m", "billing", "worker", "--poll-interval", "0.05", *args]
    with (workdir / f"worker-{uuid.uuid4().hex[:8]}.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=workdir, stdout=log, stderr=log)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def worker_logs(workdir: Path) -> str:
    return "".join(path.read_text() for path in sorted(workdir.glob("worker-*.log")))
