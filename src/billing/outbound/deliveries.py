"""What an admin sees of the sending, and what an admin may do to it: try a delivery
again now, or send an endpoint a `ping`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.core.errors import NotFound
from billing.core.times import utcnow
from billing.db import outbox
from billing.db.outbox import OutboxMessage
from billing.outbound.dispatcher import new_delivery
from billing.outbound.models import PENDING, WebhookDelivery, WebhookEndpoint

PING = "ping"  # sent on demand to one endpoint, never to subscribers


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    endpoint_id: int
    message_id: str
    type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


VIEW = select(WebhookDelivery, OutboxMessage.message_id, OutboxMessage.type).join(
    OutboxMessage, OutboxMessage.id == WebhookDelivery.message_id
)


def _view(delivery: WebhookDelivery, message_id: str, type_: str) -> DeliveryView:
    return DeliveryView(
        delivery.id,
        delivery.endpoint_id,
        message_id,
        type_,
        delivery.status,
        delivery.attempts,
        delivery.next_attempt_at if delivery.status == PENDING else None,
        delivery.last_status_code,
        delivery.last_error,
        delivery.created_at,
        delivery.delivered_at,
    )


async def _views(
    session: AsyncSession, query: Select[WebhookDelivery, str, str]
) -> list[DeliveryView]:
    return [_view(*row) for row in (await session.execute(query)).all()]


async def _live_endpoint(session: AsyncSession, endpoint_id: int) -> None:
    found = await session.scalar(
        select(WebhookEndpoint.id).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.deleted_at.is_(None)
        )
    )
    if found is None:
        raise NotFound("No such webhook endpoint.")


async def of_endpoint(
    session: AsyncSession, endpoint_id: int, status: str | None, before: int | None, limit: int
) -> list[DeliveryView]:
    """A page of an endpoint's deliveries, newest first."""
    await _live_endpoint(session, endpoint_id)
    query = VIEW.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    return await _views(session, query.order_by(WebhookDelivery.id.desc()).limit(limit))


async def retry(session: AsyncSession, delivery_id: int, *, actor: str) -> DeliveryView:
    """Send it again now, with a fresh round of retries, whatever it ended as."""
    async with session.begin():
        delivery = await session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
        )
        if delivery is None:
            raise NotFound("No such webhook delivery.")
        await _live_endpoint(session, delivery.endpoint_id)
        now = utcnow()
        delivery.status, delivery.attempts = PENDING, 0
        delivery.next_attempt_at = delivery.updated_at = now
        await audit.record(
            session,
            actor=actor,
            action="webhook_delivery.retried",
            target=f"webhook_delivery:{delivery.id}",
        )
    return await view(session, delivery_id)


async def ping(session: AsyncSession, endpoint_id: int, *, actor: str) -> int:
    """A signed `ping` for one endpoint only (`billing webhooks test`); its delivery's id."""
    async with session.begin():
        await _live_endpoint(session, endpoint_id)
        message = outbox.write(session, PING, {"endpoint_id": endpoint_id}, None)
        message.fanned_out_at = utcnow()  # it goes to this endpoint, not to subscribers
        await session.flush()
        delivery = new_delivery(message.id, endpoint_id, message.created_at)
        session.add(delivery)
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="webhook_endpoint.pinged",
            target=f"webhook_endpoint:{endpoint_id}",
        )
    return delivery.id


async def view(session: AsyncSession, delivery_id: int) -> DeliveryView:
    [found] = await _views(session, VIEW.where(WebhookDelivery.id == delivery_id))
    return found
