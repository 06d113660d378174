"""A SQLite database of its own for the tests of the SQLite plumbing, whatever the run's
backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from billing.core.config import Settings
from billing.db.engine import Database
from tests.conftest import fresh_database


@pytest.fixture
async def sqlite_database(migrated: dict[str, str], tmp_path: Path) -> AsyncIterator[Database]:
    url = await fresh_database("sqlite", migrated, tmp_path)
    found = Database(Settings(_env_file=None, BILLING_ENV="development", DATABASE_URL=url))
    yield found
    await found.dispose()
