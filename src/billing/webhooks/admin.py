"""What admins do with the inbox: look at it by status, and replay one event."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.core.errors import NotFound
from billing.core.times import utcnow
from billing.db.statements import read_without_transaction
from billing.webhooks.models import PENDING, WebhookEvent


async def list_events(
    session: AsyncSession, status: str | None, before_id: int | None, limit: int
) -> Sequence[WebhookEvent]:
    """Newest first, optionally of one status."""
    await read_without_transaction(session)
    query = select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(limit)
    if status is not None:
        query = query.where(WebhookEvent.status == status)
    if before_id is not None:
        query = query.where(WebhookEvent.id < before_id)
    return (await session.scalars(query)).all()


async def event(session: AsyncSession, stripe_event_id: str) -> WebhookEvent:
    """One inbox event; 404 when the inbox has none of that id."""
    await read_without_transaction(session)
    found = await session.scalar(
        select(WebhookEvent).where(WebhookEvent.stripe_event_id == stripe_event_id)
    )
    if found is None:
        raise NotFound(f"No event {stripe_event_id} in the inbox.")
    return found


async def replay(session: AsyncSession, stripe_event_id: str, actor: str) -> WebhookEvent:
    """Queue the event for processing again now, audited as `actor`'s; handlers' effects
    stay single through their idempotency keys, so replaying a processed event changes
    nothing twice."""
    async with session.begin():
        event = await session.scalar(
            select(WebhookEvent)
            .where(WebhookEvent.stripe_event_id == stripe_event_id)
            .with_for_update()
        )
        if event is None:
            raise NotFound(f"No event {stripe_event_id} in the inbox.")
        event.status = PENDING
        event.attempts = 0
        event.next_attempt_at = utcnow()
        event.last_error = None
        event.processed_at = None
        await audit.record(
            session,
            actor=actor,
            action="webhook.replayed",
            target=stripe_event_id,
            details={"type": event.type},
        )
    return event
