"""Reads that may be a little stale go to a streaming replica while it is caught up; to
the primary while it lags or is down, and the metric says which. Balances and spends
never go there. On a primary and replica made for this module (`support.replica`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from billing.core.config import Settings
from billing.db.engine import Database
from billing.db.replica import CHECK_SECONDS, Reads
from billing.migrations import upgrade
from billing.webhooks import inbox
from tests.conftest import Credentials, app_database, asgi_client, reset_postgres
from tests.support import replica
from tests.support.credits import CREDITS, add, spend
from tests.support.pgbouncer import settings_for
from tests.support.replica import Cluster
from tests.support.stripe_events import FILING, stripe_event

pytestmark = pytest.mark.skipif(not replica.available(), reason=replica.MISSING)
USER = 61
STALE_READS = {
    "history": f"{CREDITS}/{USER}/transactions",
    "audit": f"/api/admin/audit?user_id={USER}",
    "export": f"/api/financial/export/{USER}",
    "inbox": "/api/admin/webhooks",
    "dashboard": "/api/financial/admin/dashboard",
}


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[Cluster, Cluster]]:
    with replica.primary_and_replica() as (primary, standby):
        primary.psql("postgres", "CREATE DATABASE billing")
        upgrade(primary.url("billing"))
        yield primary, standby


@pytest.fixture
async def replicated(
    clusters: tuple[Cluster, Cluster], tmp_path: Path
) -> AsyncIterator[tuple[Cluster, Cluster]]:
    """Emptied, with the replica caught up and replaying; replay resumes after the test."""
    primary, standby = clusters
    await reset_postgres(primary.url("billing"))
    await caught_up(primary, standby)
    yield primary, standby
    standby.psql("postgres", "SELECT pg_wal_replay_resume()")


def settings_on(primary: Cluster, read_url: str, tmp_path: Path, max_lag: float) -> Settings:
    return settings_for(
        primary.url("billing"),
        DATABASE_READ_URL=read_url,
        DATABASE_READ_MAX_LAG_SECONDS=max_lag,
        BILLING_DATA_DIR=tmp_path,
    )


async def caught_up(primary: Cluster, standby: Cluster) -> None:
    target = primary.psql("postgres", "SELECT pg_current_wal_lsn()")
    for _ in range(500):
        if standby.psql("postgres", f"SELECT pg_last_wal_replay_lsn() >= '{target}'") == "t":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the replica never caught up")


def routed(reason: str) -> float:
    found = REGISTRY.get_sample_value("billing_replica_reads_total", {"reason": reason})
    return found or 0.0


async def stale_reads_see_the_spend(http: httpx.AsyncClient, admin: dict[str, str]) -> set[str]:
    """Which of the stale reads show the spend of 7 (the inbox: its event)."""
    answers = {name: await http.get(path, headers=admin) for name, path in STALE_READS.items()}
    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(
        STALE_READS, 200
    )
    history, audit = answers["history"].json()["data"], answers["audit"].json()["data"]
    exported, listed = answers["export"].json(), answers["inbox"].json()["data"]
    shown = {
        "history": any(item["amount"] == -7 for item in history),
        "audit": any(entry["action"] == "credit.spend" for entry in audit),
        "export": any(row["kind"] == "spend" for row in exported["credit_transactions"]),
        "inbox": any(event["id"] == "evt_replica" for event in listed),
    }
    return {name for name, spent in shown.items() if spent}


@asynccontextmanager
async def spent_while_paused(
    clusters: tuple[Cluster, Cluster], tmp_path: Path, max_lag: float
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A service reading from the replica, and admin headers. The user was given 100,
    seen by the replica; then, with replay paused there, spent 7 and an inbox event came:
    on the primary only."""
    primary, standby = clusters
    settings = settings_on(primary, standby.url("billing"), tmp_path, max_lag)
    async with asgi_client(settings) as http:
        admin = Credentials(settings, app_database(http)).admin()
        assert (await add(http, admin, USER, 100)).status_code == 200
        await caught_up(primary, standby)
        standby.psql("postgres", "SELECT pg_wal_replay_pause()")
        assert (await spend(http, admin, USER, 7)).status_code == 200
        event = inbox.parse_event(stripe_event(id="evt_replica"), FILING)
        assert await inbox.store(app_database(http), event)
        yield http, admin


async def test_stale_reads_go_to_a_caught_up_replica_and_balances_stay_on_the_primary(
    replicated: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    async with spent_while_paused(replicated, tmp_path, max_lag=60) as (http, admin):
        before = routed("caught_up")
        balance = await http.get(f"{CREDITS}/{USER}", headers=admin)
        assert balance.json()["balance"] == 93  # the primary's
        assert await stale_reads_see_the_spend(http, admin) == set()  # the replica's
        assert routed("caught_up") - before == len(STALE_READS)


async def test_a_lagging_replica_sends_stale_reads_to_the_primary(
    replicated: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    async with spent_while_paused(replicated, tmp_path, max_lag=0.5) as (http, admin):
        await asyncio.sleep(1)  # the last transaction replayed is now over 0.5 s old
        before = routed("lagging")
        seen = await stale_reads_see_the_spend(http, admin)
        assert seen == {"history", "audit", "export", "inbox"}
        assert routed("lagging") - before == len(STALE_READS)
        assert (REGISTRY.get_sample_value("billing_replica_lag_seconds") or 0) > 0.5


async def test_a_replica_that_is_down_sends_stale_reads_to_the_primary(
    replicated: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    primary, _ = replicated
    nowhere = "postgresql+asyncpg://postgres@127.0.0.1:1/billing"
    settings = settings_on(primary, nowhere, tmp_path, max_lag=60)
    async with asgi_client(settings) as http:
        admin = Credentials(settings, app_database(http)).admin()
        assert (await add(http, admin, USER, 100)).status_code == 200
        assert (await spend(http, admin, USER, 7)).status_code == 200
        before = routed("down")
        history = await http.get(STALE_READS["history"], headers=admin)
        assert [item["amount"] for item in history.json()["data"]] == [-7, 100]
        assert routed("down") - before == 1


async def test_the_replica_serves_again_once_it_has_caught_up(
    replicated: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    primary, standby = replicated
    async with spent_while_paused(replicated, tmp_path, max_lag=0.5) as (http, _):
        reads: Reads = http._transport.app.state.reads  # type: ignore[attr-defined]
        await asyncio.sleep(1)
        assert await reads.database() is reads.primary
        standby.psql("postgres", "SELECT pg_wal_replay_resume()")
        await caught_up(primary, standby)
        earlier = reads.clock
        reads.clock = lambda: earlier() + CHECK_SECONDS  # the next look is due
        assert await reads.database() is reads.replica


async def test_an_ordinary_role_can_tell_that_the_replica_is_caught_up(
    replicated: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    """Not only a superuser: some of the WAL receiver's state shows to superusers alone."""
    primary, standby = replicated
    primary.psql("postgres", "DROP ROLE IF EXISTS reader; CREATE ROLE reader LOGIN")
    await caught_up(primary, standby)
    as_reader = standby.url("billing").replace("postgres@", "reader@")
    settings = settings_on(primary, as_reader, tmp_path, max_lag=60)
    reads = Reads(Database(settings), settings)
    try:
        assert await reads.database() is reads.replica
        assert reads.lag == 0
    finally:
        await reads.dispose()
        await reads.primary.dispose()


async def test_a_server_that_is_not_a_standby_serves_no_stale_reads(
    replicated: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    """A promoted replica, or a wrong URL: it may have diverged from the primary."""
    primary, _ = replicated
    settings = settings_on(primary, primary.url("billing"), tmp_path, max_lag=60)
    reads = Reads(Database(settings), settings)
    try:
        assert await reads.database() is reads.primary
        assert reads.lag is None
    finally:
        await reads.dispose()
        await reads.primary.dispose()
