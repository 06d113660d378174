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

import pytest
from sqlalchemy import func, select, update

from billing.core.config import Settings
from billing.core.times import utcnow
from billing.credits.models import CreditAccount, CreditTransaction
from billing.db.engine import Database
from billing.webhooks import inbox
from billing.webhooks.models import FAILED, PENDING, WebhookEvent
from tests.conftest import BACKENDS
from tests.support import pgbouncer
from tests.support.stripe_events import stripe_event
from tests.support.stripe_reference import FIXTURES

ONLY_POSTGRES = pytest.mark.parametrize("database_url", [BACKENDS[1]], indirect=True)


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
        "metadata": {
            "billing_user_id": str(user_id),
            "billing_purpose": "topup",
            "billing_credits": str(credits),
        },
    }
    return stripe_event("payment_intent.succeeded", data={"object": intent})


async def file_events(database: Database, settings: Settings, bodies: list[bytes]) -> None:
    """Receive `bodies` into the inbox, encrypted under `settings`' keys (those the worker
    that handles them must have)."""
    async with database.sessions() as session:
        for body in bodies:
            await inbox.receive(session, inbox.parse_event(body, settings))


async def inbox_rows(database: Database) -> list[WebhookEvent]:
    async with database.sessions() as session:
        query = select(WebhookEvent).order_by(WebhookEvent.id)
        return list((await session.scalars(query)).all())


async def count_done(database: Database) -> int:
    """Events no longer waiting: processed, ignored, failed or dead."""
    query = select(func.count()).where(WebhookEvent.status != PENDING)
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


async def wallet_balances(database: Database) -> dict[int, int]:
    """Each user's wallet balance (credits in, minus clawbacks and spends)."""
    query = select(CreditAccount.user_id, CreditAccount.balance).where(
        CreditAccount.kind == "wallet"
    )
    async with database.autocommit() as connection:
        rows = (await connection.execute(query)).all()
    return {int(user or 0): int(balance or 0) for user, balance in rows}  # wallets: both set


async def status_counts(database: Database) -> dict[str, int]:
    query = select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)
    async with database.autocommit() as connection:
        return {str(status): int(n) for status, n in (await connection.execute(query)).all()}


async def make_failed_due(database: Database) -> None:
    """Skip the backoff of failed events, as time passing would (their next attempt is
    still the worker's, with its real outcome)."""
    statement = (
        update(WebhookEvent).where(WebhookEvent.status == FAILED).values(next_attempt_at=utcnow())
    )
    async with database.sessions() as session, session.begin():
        await session.execute(statement)


async def wait_until(probe: Callable[[], Awaitable[bool]], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {seconds}s")
        await asyncio.sleep(0.005)


WORKER_ARGS = ("worker", "--poll-interval", "0.05")


def worker_env(database_url: str, workdir: Path) -> dict[str, str]:
    """What a test's `billing worker` (or other `billing` process) runs with, on top of the
    test's environment."""
    return {
        "DATABASE_URL": database_url,
        "DATABASE_PGBOUNCER": str(pgbouncer.fronts(database_url)).lower(),
        "BILLING_DATA_DIR": str(workdir),
        "BILLING_ENV": "development",
    }


@contextmanager
def worker_process(
    database_url: str, workdir: Path, *args: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`billing worker` as a real process (its output in a file); killed if still running."""
    env = {**os.environ, **worker_env(database_url, workdir)}
    command = [sys.executable, "-m", "billing", *WORKER_ARGS, *args]
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
