"""What every handler is given besides the session and the event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from billing.config import Settings
from billing.stripe_api import require_client
from billing.webhooks.models import WebhookEvent


@dataclass(frozen=True, slots=True)
class HandlerContext:
    settings: Settings
    stripe_client: stripe.StripeClient | None

    @property
    def stripe(self) -> stripe.StripeClient:
        """The Stripe client, for the little a payload lacks (line items, unknown prices)."""
        return require_client(self.stripe_client)


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
