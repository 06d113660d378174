"""The handler harness: a database, the real registry bound to the sandbox, and the
sandbox client for setting up Stripe's side of each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from billing.core.config import Settings
from billing.db.engine import Database
from tests.support.handler_harness import Harness
from tests.support.sandbox_process import Sandbox


@pytest.fixture
async def harness(stripe_settings: Settings, stripe_sandbox: Sandbox) -> AsyncIterator[Harness]:
    database = Database(stripe_settings)
    yield Harness(database, stripe_settings, stripe_sandbox.client)
    await database.dispose()
