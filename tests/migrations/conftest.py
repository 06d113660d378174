"""Fixtures of the migration tests: databases with no schema yet, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from billing.core.config import Settings
from billing.db.engine import create_engine
from tests.conftest import BACKENDS, POSTGRES_URL


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    assert POSTGRES_URL
    base, _, current = POSTGRES_URL.rpartition("/")
    name = f"{current}_migrations"
    admin = Settings(_env_file=None, BILLING_ENV="development", DATABASE_URL=f"{base}/postgres")

    async def run(*statements: str) -> None:
        engine = create_engine(admin)
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            for statement in statements:
                await connection.execute(text(statement))
        await engine.dispose()

    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    asyncio.run(run(drop, f'CREATE DATABASE "{name}"'))
    yield f"{base}/{name}"
    asyncio.run(run(drop))
