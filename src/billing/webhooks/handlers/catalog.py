"""`product.*` and `price.*`: keep the catalog mirror (and so every cache) current.

The event's `created` time orders states, so a late `price.updated` never undoes a
newer one. A deletion marks the row inactive: prices that were sold stay known, so
credits for existing subscriptions on them are still granted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog.service import apply_price, apply_product
from billing.webhooks.handlers.context import EventHandler, HandlerContext, event_object
from billing.webhooks.models import WebhookEvent

Apply = Callable[[AsyncSession, dict[str, Any], datetime], Awaitable[None]]


def _mirror(apply: Apply, *, deleted: bool = False) -> EventHandler:
    """A handler applying the event's object as of the event's time. A `*.deleted`
    event carries the object as it last stood, so it is marked deleted here."""

    async def handle(context: HandlerContext, session: AsyncSession, event: WebhookEvent) -> None:
        obj = event_object(event)
        await apply(session, {**obj, "deleted": True} if deleted else obj, event.created)

    return handle


HANDLERS: dict[str, EventHandler] = {
    "product.created": _mirror(apply_product),
    "product.updated": _mirror(apply_product),
    "product.deleted": _mirror(apply_product, deleted=True),
    "price.created": _mirror(apply_price),
    "price.updated": _mirror(apply_price),
    "price.deleted": _mirror(apply_price, deleted=True),
}
