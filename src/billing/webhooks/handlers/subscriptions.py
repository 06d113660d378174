"""Subscription events keep the local mirror in step; stale or post-deletion states are
refused by the mirror itself (`payments.subscription_mirror.apply`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments import subscription_mirror
from billing.webhooks.handlers.context import EventHandler, HandlerContext, event_object
from billing.webhooks.models import WebhookEvent


async def mirror_subscription(
    context: HandlerContext, session: AsyncSession, event: WebhookEvent
) -> None:
    await subscription_mirror.apply(
        session, event_object(event), event.created, legacy_before=context.legacy_metadata_before
    )


HANDLERS: dict[str, EventHandler] = {
    "customer.subscription.created": mirror_subscription,
    "customer.subscription.updated": mirror_subscription,
    "customer.subscription.deleted": mirror_subscription,
}
