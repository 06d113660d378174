"""`product.*` and `price.*`: keep the catalog mirror (and so every cache) current.

The event's `created` time orders states, so a late `price.updated` never undoes a
newer one. A deletion marks the row inactive: prices that were sold stay known, so
credits for existing subscriptions on them are still granted.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog.service import apply_price, apply_product
from billing.webhooks.handlers.context import EventHandler, HandlerContext, event_object
from billing.webhooks.models import WebhookEvent


async def product_changed(
    context: HandlerContext, session: AsyncSession, event: WebhookEvent
) -> None:
    await apply_product(session, event_object(event), event.created)


async def product_deleted(
    context: HandlerContext, session: AsyncSession, event: WebhookEvent
) -> None:
    await apply_product(session, {**event_object(event), "deleted": True}, event.created)


async def price_changed(
    context: HandlerContext, session: AsyncSession, event: WebhookEvent
) -> None:
    await apply_price(session, event_object(event), event.created)


async def price_deleted(
    context: HandlerContext, session: AsyncSession, event: WebhookEvent
) -> None:
    await apply_price(session, {**event_object(event), "deleted": True}, event.created)


HANDLERS: dict[str, EventHandler] = {
    "product.created": product_changed,
    "product.updated": product_changed,
    "product.deleted": product_deleted,
    "price.created": price_changed,
    "price.updated": price_changed,
    "price.deleted": price_deleted,
}
