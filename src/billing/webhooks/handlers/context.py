"""What every handler is given besides the session and the event.

A handler runs inside the worker's transaction, so a Stripe call it makes holds that
transaction open. On SQLite that means the database's write lock (BEGIN IMMEDIATE),
which every other writer waits on for at most the 10 s busy timeout, then fails. So
there handlers get a client of their own that gives up after 5 s and never retries,
and the event is retried later instead. PostgreSQL locks rows, not the database:
handlers keep the client they were given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.config import Settings
from billing.stripe.client import create_client, require_client
from billing.webhooks.models import WebhookEvent

SQLITE_STRIPE_TIMEOUT = 5.0  # seconds per Stripe call: half SQLite's busy timeout


@dataclass(frozen=True, slots=True)
class HandlerContext:
    settings: Settings
    stripe_client: stripe.StripeClient | None

    def __post_init__(self) -> None:
        if self.settings.is_sqlite and self.stripe_client is not None:
            short = create_client(self.settings, timeout=SQLITE_STRIPE_TIMEOUT, retries=0)
            object.__setattr__(self, "stripe_client", short or self.stripe_client)

    @property
    def stripe(self) -> stripe.StripeClient:
        """The Stripe client, for the little a payload lacks (line items, unknown prices)."""
        return require_client(self.stripe_client)

    @property
    def legacy_metadata_before(self) -> datetime | None:
        """Objects created before this may carry the plain metadata keys of an older
        version (`stripe.metadata`); None: none do."""
        return self.settings.BILLING_LEGACY_METADATA_BEFORE


EventHandler = Callable[[HandlerContext, AsyncSession, WebhookEvent], Awaitable[None]]


def event_object(event: WebhookEvent) -> dict[str, Any]:
    """The Stripe object the event is about (`data.object`)."""
    payload = event.payload or {}
    obj = payload.get("data", {}).get("object")
    if not isinstance(obj, dict):
        raise ValueError(f"event {event.stripe_event_id} carries no object")
    return obj


def previous_attributes(event: WebhookEvent) -> dict[str, Any]:
    payload = event.payload or {}
    found = payload.get("data", {}).get("previous_attributes")
    return found if isinstance(found, dict) else {}
