"""One Alembic history for both databases: it round-trips and matches the models."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

from billing.core.config import Settings
from billing.credits.accounts import SYSTEM_ACCOUNT_IDS
from billing.db.engine import create_engine
from billing.migrations import downgrade, upgrade
from billing.migrations.schema import metadata
from billing.runtime.cli import app
from tests.conftest import NEEDS_POSTGRES
from tests.support.pgbouncer import Bouncer
from tests.support.worker import worker_env


def inspect_database(url: str, check: object) -> object:
    async def run() -> object:
        engine = create_engine(
            Settings(_env_file=None, BILLING_ENV="development", DATABASE_URL=url)
        )
        async with engine.connect() as connection:
            result = await connection.run_sync(check)  # type: ignore[arg-type]
        await engine.dispose()
        return result

    return asyncio.run(run())


def tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def model_diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def system_accounts(connection: Connection) -> dict[str, int]:
    rows = connection.execute(text("SELECT name, id FROM credit_accounts WHERE kind = 'system'"))
    return {name: account_id for name, account_id in rows}


def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    upgrade(empty_database)
    assert inspect_database(empty_database, tables) == set(metadata.tables)
    downgrade(empty_database)
    assert inspect_database(empty_database, tables) == set()
    upgrade(empty_database)
    assert inspect_database(empty_database, tables) == set(metadata.tables)
    assert inspect_database(empty_database, system_accounts) == SYSTEM_ACCOUNT_IDS


def test_models_match_the_migrations(empty_database: str) -> None:
    upgrade(empty_database)
    assert inspect_database(empty_database, model_diff) == []


@pytest.mark.parametrize(
    "empty_database", [pytest.param("postgres", marks=NEEDS_POSTGRES)], indirect=True
)
def test_billing_migrate_runs_through_pgbouncer(empty_database: str, bouncer: Bouncer) -> None:
    env = worker_env(bouncer.url_for(empty_database), Path("."))
    assert env["DATABASE_PGBOUNCER"] == "true"
    result = CliRunner().invoke(app, ["migrate"], env=env)
    assert result.exit_code == 0, result.output
    assert inspect_database(empty_database, tables) == set(metadata.tables)


def posting_function_settings(connection: Connection) -> dict[str, list[str]]:
    found = connection.execute(
        text(
            "SELECT proname, proconfig FROM pg_proc"
            " WHERE proname IN ('credit_debit', 'credit_hold_settle')"
        )
    )
    return {name: config for name, config in found}


@pytest.mark.parametrize(
    "empty_database", [pytest.param("postgres", marks=NEEDS_POSTGRES)], indirect=True
)
def test_posting_functions_keep_their_settings_across_redefinitions(empty_database: str) -> None:
    """0016 plans the keyed functions' lookups by key; CREATE OR REPLACE (0025) drops a
    function's settings unless set again."""
    expected = {
        "credit_debit": ["enable_seqscan=off"],
        "credit_hold_settle": ["enable_seqscan=off"],
    }
    upgrade(empty_database)
    assert inspect_database(empty_database, posting_function_settings) == expected
    downgrade(empty_database, "0024")
    assert inspect_database(empty_database, posting_function_settings) == expected
