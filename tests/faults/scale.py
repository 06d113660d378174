"""A scale-out run: servers and workers on one PostgreSQL under mixed load, a server and a
worker SIGKILLed every few seconds, then checked. `bench/scale.py` runs it long and
prints the figures; `tests/faults/test_scale_kills.py` runs a short one.

Checked at the end: every balance is what the acknowledged operations foretell (nothing
lost, nothing applied twice), every acknowledged Stripe event was processed, every
committed outbox message was delivered to the platform, `verify_ledger` holds, and no
client saw a 500."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from billing.auth.api_keys import create_api_key
from billing.auth.tokens import issue_token
from billing.core.config import Settings
from billing.credits.models import CreditHold
from billing.credits.verify import verify_ledger
from billing.db.engine import Database
from billing.db.outbox import OutboxMessage
from billing.outbound.dispatcher import LEASE
from billing.outbound.models import DELIVERED, WebhookDelivery
from billing.payments.checks import SUMMARY_CHECKS
from billing.webhooks.models import WebhookEvent
from tests.faults.fleet import Fleet, Kill
from tests.faults.killer import NO_STRIPE
from tests.faults.mixed_load import EXPECTED, MixedLoad, Tally
from tests.support.pgbouncer import settings_for
from tests.support.receiver import receiver
from tests.support.sandbox_process import free_port
from tests.support.worker import wait_until, wallet_balances, worker_env

FUNDING = 1_000_000  # each user's credits before the load: spends are never refused
WEBHOOK_SECRET = "whsec_scale"
DRAIN_SECONDS = LEASE.total_seconds() + 90  # a killed delivery waits out its lease


@dataclass(frozen=True)
class Plan:
    servers: int = 2
    workers: int = 2
    seconds: float = 10.0
    kill_every: float = 3.0
    lanes: int = 16
    users: int = 50
    seed: int = 0


@dataclass
class Outcome:
    plan: Plan
    tally: Tally
    kills: list[Kill]
    load_seconds: float
    drain_seconds: float = 0.0
    exit_codes: dict[str, list[int | None]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    delivered: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures


async def run(plan: Plan, database_url: str, workdir: Path) -> Outcome:
    """One run on the migrated, empty `database_url`."""
    settings = settings_for(database_url, BILLING_DATA_DIR=workdir)
    database = Database(settings)
    env = {
        **worker_env(database_url, workdir),
        **NO_STRIPE,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "BILLING_RUN_WORKER": "false",
        "BILLING_RATE_LIMIT": "1000000/second",
    }
    rng = random.Random(plan.seed)
    try:
        async with receiver() as platform:
            with Fleet(env, workdir, free_port(), plan.servers, plan.workers) as fleet:
                base = f"http://127.0.0.1:{fleet.port}"
                limits = httpx.Limits(max_connections=plan.lanes * 2)
                async with httpx.AsyncClient(base_url=base, limits=limits) as http:
                    key = await _prepare(http, database, settings, platform.url, plan.users)
                    load = MixedLoad(http, key, WEBHOOK_SECRET, list(range(1, plan.users + 1)), rng)
                    outcome = await _load_while_killing(fleet, load, plan, rng)
                started = time.monotonic()
                outcome.failures += await _drained(database)
                outcome.drain_seconds = time.monotonic() - started
                outcome.exit_codes = fleet.stop()
            outcome.failures += await _checks(database, outcome, set(platform.ids()))
    finally:
        await database.dispose()
    return outcome


async def _prepare(
    http: httpx.AsyncClient, database: Database, settings: Settings, hooks: str, users: int
) -> str:
    """Servers up, users funded, the platform's endpoint registered; a service API key."""
    await wait_until(lambda: _answers(http))
    admin = {"Authorization": f"Bearer {issue_token(settings, 1, 'admin', timedelta(hours=1))}"}
    endpoint = {"url": hooks, "events": ["*"]}
    assert (
        await http.post("/api/admin/webhook-endpoints", json=endpoint, headers=admin)
    ).is_success
    for user in range(1, users + 1):
        body = {"amount": FUNDING, "reason": "scale run"}
        funded = await http.post(f"/api/financial/credits/{user}/add", json=body, headers=admin)
        assert funded.status_code == 200, funded.text
    async with database.sessions() as session, session.begin():
        key, _ = await create_api_key(session, "service", "scale run")
    return key


async def _answers(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/healthz", timeout=1)).status_code == 200
    except httpx.TransportError:
        return False


async def _load_while_killing(
    fleet: Fleet, load: MixedLoad, plan: Plan, rng: random.Random
) -> Outcome:
    stop = asyncio.Event()
    started = time.monotonic()
    killer = asyncio.create_task(fleet.kill_until(stop, plan.kill_every, rng))
    lanes = asyncio.create_task(load.run(plan.lanes, stop))
    await asyncio.sleep(plan.seconds)
    stop.set()
    await asyncio.gather(killer, lanes)
    return Outcome(plan, load.tally, fleet.kills, time.monotonic() - started)


async def _drained(database: Database) -> list[str]:
    """Wait until the inbox holds nothing pending and every delivery is delivered."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while True:
        waiting, undelivered = await _backlog(database)
        if not waiting and not undelivered:
            return []
        if time.monotonic() > deadline:
            return [
                f"not drained in {DRAIN_SECONDS:.0f} s: {waiting} events, {undelivered} deliveries"
            ]
        await asyncio.sleep(0.2)


async def _backlog(database: Database) -> tuple[int, int]:
    async with database.autocommit() as connection:
        waiting = await connection.scalar(
            select(func.count()).where(WebhookEvent.status != "processed")
        )
        messages = await connection.scalar(select(func.count()).select_from(OutboxMessage))
        delivered = await connection.scalar(
            select(func.count()).where(WebhookDelivery.status == DELIVERED)
        )
    return int(waiting or 0), int(messages or 0) - int(delivered or 0)


async def _checks(database: Database, outcome: Outcome, received: set[str]) -> list[str]:
    failures = [f"a client saw {error}" for error in outcome.tally.server_errors]
    if unexpected := set(outcome.tally.answers) - EXPECTED:
        failures.append(f"answers no operation should get: {sorted(unexpected)}")
    failures += await _money(database, outcome)
    failures += await _deliveries(database, outcome, received)
    async with database.sessions() as session, session.begin():
        report = await verify_ledger(session, SUMMARY_CHECKS)
    failures += [f"verify-ledger: {name} {ids[:5]}" for name, ids in report.failures.items()]
    # uvicorn ends a server by raising the signal again once it has drained: -SIGTERM.
    clean = {"server": {0, -signal.SIGTERM}, "worker": {0}}
    if any(set(codes) - clean[role] for role, codes in outcome.exit_codes.items()):
        failures.append(f"a process did not stop cleanly on SIGTERM: {outcome.exit_codes}")
    return failures


async def _money(database: Database, outcome: Outcome) -> list[str]:
    """Every user's balance as foretold, and no hold left active."""
    failures = []
    balances = await wallet_balances(database)
    users = range(1, outcome.plan.users + 1)
    expected = {user: FUNDING + outcome.tally.moved[user] for user in users}
    wrong = {u: (balances.get(u), want) for u, want in expected.items() if balances.get(u) != want}
    if wrong:
        failures.append(f"balances (found, foretold) differ: {dict(list(wrong.items())[:5])}")
    async with database.autocommit() as connection:
        # Every hold acknowledged was captured: one still active was placed by no caller.
        active = await connection.scalar(select(func.count()).where(CreditHold.status == "active"))
        if active:
            failures.append(f"{active} holds left active (placed twice, or never settled)")
    return failures


async def _deliveries(database: Database, outcome: Outcome, received: set[str]) -> list[str]:
    """Every acknowledged Stripe event processed; every outbox message at the platform."""
    failures = []
    async with database.autocommit() as connection:
        processed = set(
            await connection.scalars(
                select(WebhookEvent.stripe_event_id).where(WebhookEvent.status == "processed")
            )
        )
        sent = set(await connection.scalars(select(OutboxMessage.message_id)))
    if missing := set(outcome.tally.events) - processed:
        failures.append(f"{len(missing)} acknowledged events not processed")
    if unsent := sent - received:
        failures.append(f"{len(unsent)} committed outbox messages never reached the platform")
    outcome.delivered = len(sent & received)
    return failures
