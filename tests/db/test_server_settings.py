"""Behind PgBouncer the service cannot set its connections' settings; it checks them:
`/readyz` answers 503 and `billing worker` refuses to start while they differ."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from billing.core.config import Settings
from billing.db.engine import Database
from tests.conftest import NO_POSTGRES, asgi_client
from tests.support import pgbouncer
from tests.support.pgbouncer import Bouncer, connect_query, settings_for
from tests.support.worker import worker_env

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_POSTGRES_URL"), reason=NO_POSTGRES)


@pytest.fixture
def pooled(pg: Database, bouncer: Bouncer, tmp_path: Path) -> Settings:
    """The emptied PostgreSQL through the run's PgBouncer (no threshold set there)."""
    url = pg.engine.url.render_as_string(hide_password=False)
    return settings_for(bouncer.url_for(url), BILLING_DATA_DIR=tmp_path)


async def readyz(settings: Settings) -> httpx.Response:
    async with asgi_client(settings) as client:
        return await client.get("/readyz")


async def readyz_behind(pooled: Settings, query: str, **values: Any) -> httpx.Response:
    """/readyz of a service behind a PgBouncer of its own, whose `connect_query` is `query`."""
    with pgbouncer.running(pooled.DATABASE_URL, query) as other:
        url = other.url_for(pooled.DATABASE_URL)
        return await readyz(settings_for(url, BILLING_DATA_DIR=pooled.BILLING_DATA_DIR, **values))


async def test_readyz_is_ready_when_pgbouncer_sets_what_the_service_needs(
    pooled: Settings,
) -> None:
    response = await readyz(pooled)
    assert response.status_code == 200, response.text
    response = await readyz_behind(pooled, connect_query(40), BILLING_LOW_BALANCE_THRESHOLD=40)
    assert response.status_code == 200, response.text


async def test_readyz_names_a_threshold_pgbouncer_does_not_set(pooled: Settings) -> None:
    response = await readyz(pooled.model_copy(update={"BILLING_LOW_BALANCE_THRESHOLD": 40}))
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "billing.low_balance_threshold is unset, not 40" in detail
    assert "connect_query" in detail


async def test_readyz_names_a_commit_that_does_not_wait_for_durability(
    pooled: Settings,
) -> None:
    lax = "SET synchronous_commit = off; SET billing.low_balance_threshold = 40"
    response = await readyz_behind(pooled, lax)
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "synchronous_commit is off, not on" in detail
    assert "billing.low_balance_threshold is 40, not unset" in detail


async def test_without_the_setting_pgbouncer_refuses_the_connections(pooled: Settings) -> None:
    """What DATABASE_PGBOUNCER is for: a direct connection's startup settings are refused."""
    response = await readyz(pooled.model_copy(update={"DATABASE_PGBOUNCER": False}))
    assert response.status_code == 503


def test_the_worker_refuses_to_start_on_settings_that_differ(
    pooled: Settings, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        **worker_env(pooled.DATABASE_URL, tmp_path),
        "BILLING_LOW_BALANCE_THRESHOLD": "40",
    }
    done = _worker(env, tmp_path)
    assert done.returncode == 2
    assert "billing.low_balance_threshold is unset, not 40" in done.stderr


def _worker(env: dict[str, str], workdir: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "billing", "worker"]
    return subprocess.run(command, env=env, cwd=workdir, capture_output=True, text=True, timeout=60)
