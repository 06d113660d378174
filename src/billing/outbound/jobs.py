"""The dispatcher as a worker's periodic job."""

from __future__ import annotations

import httpx

from billing.core.config import Settings
from billing.db.engine import Database
from billing.outbound import sending
from billing.outbound.dispatcher import BATCH, deliver

DISPATCH_INTERVAL = 1.0  # seconds between passes once the outbox is drained


class Dispatch:
    """Passes until nothing is left due, over one HTTP client for the process's life, so
    connections to an endpoint are reused from message to message."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database, self.settings = database, settings
        self._client: httpx.AsyncClient | None = None

    async def __call__(self) -> int:
        if self._client is None:
            self._client = sending.client()
        attempts = 0
        while True:
            made = await deliver(self.database, self.settings, self._client)
            attempts += made
            if made < BATCH:
                return attempts
