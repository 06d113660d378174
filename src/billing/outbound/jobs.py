"""The dispatcher as a worker's periodic job."""

from __future__ import annotations

import httpx

from billing.core.config import Settings
from billing.db.engine import Database
from billing.outbound import sending
from billing.outbound.dispatcher import more_to_do

DISPATCH_INTERVAL = 1.0  # seconds between passes once the outbox is drained


class Dispatch:
    """One pass of the dispatcher per call, over one HTTP client for the process's life,
    so connections to an endpoint are reused from message to message. `True` while
    passes come back full: the worker runs it again at once, and may stop in between."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database, self.settings = database, settings
        self._client: httpx.AsyncClient | None = None

    async def __call__(self) -> bool:
        if self._client is None:
            self._client = sending.client()
        return await more_to_do(self.database, self.settings, self._client)
