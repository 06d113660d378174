"""Fixtures: every database-backed test runs on SQLite and, when TEST_POSTGRES_URL is
set (CI sets it), on PostgreSQL too."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import stripe
from playwright.sync_api import Browser
from pydantic import SecretStr
from sqlalchemy import text

from billing.auth.api_keys import create_api_key
from billing.auth.principals import Role
from billing.auth.tokens import issue_token
from billing.core.config import Settings
from billing.core.times import CLOCK, Clock
from billing.credits import single_statement, stepwise
from billing.credits.verify import verify_ledger
from billing.db.engine import Database
from billing.http.app import create_app
from billing.migrations import upgrade
from billing.obs.failure_spikes import SPIKES
from billing.payments.checks import SUMMARY_CHECKS
from billing.stripe.client import create_client, require_client
from billing.webhooks.inbox import DELIVERIES, RECEIVED
from tests.support import pgbouncer
from tests.support.browser import chromium
from tests.support.pgbouncer import settings_for
from tests.support.sandbox_process import Sandbox, start, stop
from tests.support.workers import drop_own_postgres, own_postgres, own_redis

POSTGRES_URL = own_postgres(os.environ.get("TEST_POSTGRES_URL"))
if (REDIS_URL := own_redis(os.environ.get("TEST_REDIS_URL"))) is not None:
    os.environ["TEST_REDIS_URL"] = REDIS_URL  # read by the modules that need it
NO_POSTGRES = "TEST_POSTGRES_URL is not set: PostgreSQL tests need a real server (.ci/run sets it)"
NEEDS_POSTGRES = pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)
BACKENDS = ["sqlite", pytest.param("postgres", marks=NEEDS_POSTGRES)]
# The same PostgreSQL through PgBouncer, for modules marked `pgbouncer`.
POOLED = pytest.param("pgbouncer", marks=NEEDS_POSTGRES)
SANDBOX_SECRET_KEY = "sk_test_sandbox"
WEBHOOK_SECRET = "whsec_test_billing"
SLOW_RETRIES = ("--webhook-retry-delays", "0.5,1,2,4,8")
# Rows that tests create; system accounts (seeded by the migration) stay. DELETE, not
# TRUNCATE: a TRUNCATE gives each table new files, synced at commit (180 ms a test here,
# against 10); the `replica` role skips the ledger's immutability and key triggers.
TESTS_TABLES = (
    "credit_holds, credit_grant_entries, credit_grants, credit_entries, credit_transactions,"
    " idempotency_keys, api_keys, webhook_events, webhook_endpoints, webhook_messages,"
    " webhook_deliveries, webhook_attempts, auto_topups, auto_topup_settings,"
    " stripe_customers, subscriptions, payments, disputes, catalog_products, catalog_prices,"
    " audit_log, credit_rollups, credit_day_totals, credit_spend_windows,"
    " payment_day_totals, subscription_plan_totals"
)
PG_RESET = ";".join(
    [
        "SET LOCAL session_replication_role = replica",
        *(f"DELETE FROM {table.strip()}" for table in TESTS_TABLES.split(",")),  # noqa: S608
        "UPDATE catalog_version SET version = 0",
        "DELETE FROM credit_accounts WHERE kind = 'wallet'",
    ]
)


@pytest.fixture(scope="session", autouse=True)
def own_databases_dropped() -> Iterator[None]:
    """A worker's own PostgreSQL database goes with it (`support.workers`)."""
    yield
    drop_own_postgres(POSTGRES_URL)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests of a module marked `pgbouncer` run on PgBouncer too."""
    pooled = metafunc.definition.get_closest_marker("pgbouncer") is not None
    if "database_url" in metafunc.fixturenames and not _parametrizes(metafunc, "database_url"):
        backends = [*BACKENDS, POOLED] if pooled else BACKENDS
        metafunc.parametrize("database_url", backends, indirect=True)
    if "pg" in metafunc.fixturenames and pooled:
        metafunc.parametrize("pg", ["postgres", POOLED], indirect=True)


def _parametrizes(metafunc: pytest.Metafunc, name: str) -> bool:
    """Whether the test's own `parametrize` marks already choose `name`."""
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        if name in (names.replace(" ", "").split(",") if isinstance(names, str) else names):
            return True
    return False


@pytest.fixture(scope="session")
def bouncer() -> Iterator[pgbouncer.Bouncer]:
    """PgBouncer in transaction pooling in front of the run's PostgreSQL."""
    assert POSTGRES_URL
    with pgbouncer.running(POSTGRES_URL) as running:
        yield running


@pytest.fixture
def clock() -> Iterator[Clock]:
    """This process's clock, to move forward (`clock.offset = timedelta(days=31)`) instead
    of sleeping; put back after the test. Mint JWTs before moving it (a token issued in
    the clock's future is refused), or use API keys."""
    yield CLOCK
    CLOCK.offset = timedelta(0)


@pytest.fixture(autouse=True)
def fresh_failure_counts() -> None:
    """Each test starts like a new process: failures counted by earlier tests must not
    add up to a spike alert in this one."""
    SPIKES.clear()


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Migrate once per run: a SQLite template file and, if configured, PostgreSQL."""
    template = tmp_path_factory.mktemp("template") / "billing.db"
    upgrade(f"sqlite+aiosqlite:///{template}")
    databases = {"sqlite": str(template)}
    if POSTGRES_URL:
        upgrade(POSTGRES_URL)
        databases["postgres"] = POSTGRES_URL
    return databases


async def reset_postgres(url: str) -> None:
    database = Database(settings_for(url))
    async with database.engine.begin() as connection:
        for statement in PG_RESET.split(";"):
            await connection.execute(text(statement))
    await database.dispose()


async def fresh_database(backend: str, migrated: dict[str, str], directory: Path) -> str:
    """The URL of a migrated, empty database: a copy of the SQLite template in
    `directory`, or the emptied PostgreSQL."""
    if backend == "sqlite":
        path = directory / "billing.db"
        shutil.copy(migrated["sqlite"], path)
        return f"sqlite+aiosqlite:///{path}"
    await reset_postgres(migrated["postgres"])
    return migrated["postgres"]


@pytest.fixture
async def database_url(
    request: pytest.FixtureRequest, migrated: dict[str, str], tmp_path: Path
) -> AsyncIterator[str]:
    """A migrated, empty database (`fresh_database`), or the emptied PostgreSQL through
    PgBouncer. Whatever the test did, every ledger invariant must still hold afterwards."""
    url = await fresh_database(request.param.replace("pgbouncer", "postgres"), migrated, tmp_path)
    if request.param == "pgbouncer":
        url = request.getfixturevalue("bouncer").url_for(url)
    yield url
    if request.node.get_closest_marker("ledger_tampered") is None:
        await assert_ledger_holds(url)


@pytest.fixture
async def sqlite_database(migrated: dict[str, str], tmp_path: Path) -> AsyncIterator[Database]:
    """A SQLite database of its own, whatever the run's backends: for the SQLite plumbing."""
    url = await fresh_database("sqlite", migrated, tmp_path)
    found = Database(settings_for(url))
    yield found
    assert_no_write_left(found)
    await found.dispose()


# Every group commit's queues, on either database.
GROUP_COMMITS = (
    single_statement.SPENDS,
    single_statement.ROWS,
    stepwise.SPENDS,
    DELIVERIES,
    RECEIVED,
)


def assert_no_write_left(database: Database) -> None:
    for writes in GROUP_COMMITS:
        assert writes.idle(database), "a write was left in flight or queued"


async def assert_ledger_holds(url: str) -> None:
    database = Database(settings_for(url))
    try:
        async with database.sessions() as session, session.begin():
            report = await verify_ledger(session, SUMMARY_CHECKS)
    finally:
        await database.dispose()
    assert report.ok, f"ledger invariants broken after the test: {report.failures}"


@pytest.fixture
async def pg(request: pytest.FixtureRequest, migrated: dict[str, str]) -> AsyncIterator[Database]:
    """The emptied PostgreSQL (through PgBouncer in a second case of modules marked
    `pgbouncer`), for tests of what only PostgreSQL does (group commit)."""
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    url = migrated["postgres"]
    await reset_postgres(url)
    if getattr(request, "param", "postgres") == "pgbouncer":
        url = request.getfixturevalue("bouncer").url_for(url)
    database = Database(settings_for(url))
    yield database
    assert_no_write_left(database)
    await database.dispose()
    await assert_ledger_holds(url)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, BILLING_DATA_DIR=tmp_path)


@asynccontextmanager
async def asgi_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that calls a fresh app for `settings` in process."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:
        yield http
    await app.state.reads.dispose()
    await app.state.database.dispose()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(settings) as http:
        yield http


def sandbox_process(factory: pytest.TempPathFactory, name: str) -> Iterator[Sandbox]:
    """A Stripe sandbox process while the fixture lasts. Retries spread over ~15 s, like
    Stripe's (hours) scaled down, so an outage test can end before the sandbox gives up."""
    running = start(factory.mktemp(name), *SLOW_RETRIES)
    yield running
    stop(running)


@pytest.fixture(scope="session")
def stripe_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One Stripe sandbox process for the whole run; tests create their own objects."""
    yield from sandbox_process(tmp_path_factory, "stripe-sandbox")


@pytest.fixture
def stripe_settings(settings: Settings, stripe_sandbox: Sandbox) -> Settings:
    """`settings` pointed at the sandbox, as the demo and CI run."""
    return settings.model_copy(
        update={
            "STRIPE_API_BASE": stripe_sandbox.url,
            "STRIPE_SECRET_KEY": SecretStr(SANDBOX_SECRET_KEY),
            "STRIPE_PUBLISHABLE_KEY": "pk_test_sandbox",
            "STRIPE_WEBHOOK_SECRET": SecretStr(WEBHOOK_SECRET),
            "BILLING_ALLOWED_REDIRECT_HOSTS": "billing.test,app.example.com",
        }
    )


@pytest.fixture
async def stripe_client(stripe_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Like `client`, with the app's Stripe calls going to the sandbox."""
    async with asgi_client(stripe_settings) as http:
        yield http


@pytest.fixture
async def stripe_database(stripe_settings: Settings) -> AsyncIterator[Database]:
    """The database of `stripe_settings`, for tests that drive services directly."""
    database = Database(stripe_settings)
    yield database
    await database.dispose()


@pytest.fixture
def stripe_api(stripe_settings: Settings) -> stripe.StripeClient:
    """The service's own Stripe client for `stripe_settings` (the sandbox)."""
    return require_client(create_client(stripe_settings))


def app_database(client: httpx.AsyncClient) -> Database:
    """The database the app behind an `asgi_client` uses."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    db: Database = transport.app.state.database  # type: ignore[attr-defined]
    return db


@pytest.fixture
def database(client: httpx.AsyncClient) -> Database:
    """The database the `client` app uses."""
    return app_database(client)


class Credentials:
    """Headers for each kind of caller."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database

    def bearer(self, user_id: int, role: Role = "user", ttl: int = 300) -> dict[str, str]:
        token = issue_token(self.settings, user_id, role, timedelta(seconds=ttl))
        return {"Authorization": f"Bearer {token}"}

    def admin(self) -> dict[str, str]:
        return self.bearer(1, "admin")

    async def api_key(self, role: Role) -> dict[str, str]:
        async with self.database.sessions() as session, session.begin():
            key, _ = await create_api_key(session, role, f"test {role}")
        return {"X-API-Key": key}


@pytest.fixture
def creds(settings: Settings, database: Database) -> Credentials:
    return Credentials(settings, database)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, shared by a module's browser tests."""
    with chromium() as launched:
        yield launched
