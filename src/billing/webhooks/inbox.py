"""Receiving into the inbox: a verified event is stored once, then acknowledged.

Processing happens later, in a worker; the receiving side only has to make sure
that an acknowledged event is on disk and that a redelivery changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from billing.db import upsert, utcnow
from billing.errors import ValidationProblem
from billing.webhooks.models import WebhookEvent

PENDING = "pending"


@dataclass(frozen=True, slots=True)
class StripeEvent:
    id: str
    type: str
    api_version: str | None
    livemode: bool
    created: datetime
    payload: dict[str, Any]


def parse_event(body: bytes) -> StripeEvent:
    """The event envelope, checked: Stripe signed it, but we still refuse what we can't file."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValidationProblem("The webhook body is not JSON.") from exc
    if not isinstance(payload, dict) or payload.get("object") != "event":
        raise ValidationProblem("The webhook body is not a Stripe event.")
    event_id, event_type, created = payload.get("id"), payload.get("type"), payload.get("created")
    if not (isinstance(event_id, str) and event_id.startswith("evt_") and len(event_id) <= 255):
        raise ValidationProblem("The event has no valid id.")
    if not (isinstance(event_type, str) and 0 < len(event_type) <= 100):
        raise ValidationProblem("The event has no valid type.")
    if not isinstance(created, int):
        raise ValidationProblem("The event has no creation time.")
    api_version = payload.get("api_version")
    return StripeEvent(
        id=event_id,
        type=event_type,
        api_version=api_version if isinstance(api_version, str) else None,
        livemode=bool(payload.get("livemode")),
        created=datetime.fromtimestamp(created, UTC),
        payload=payload,
    )


async def receive(session: AsyncSession, event: StripeEvent) -> bool:
    """Store the event unless it is already in the inbox; True if it is new."""
    now = utcnow()
    statement = (
        upsert(session.get_bind().dialect.name, WebhookEvent)
        .values(
            stripe_event_id=event.id,
            type=event.type,
            api_version=event.api_version,
            livemode=event.livemode,
            created=event.created,
            payload=event.payload,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["stripe_event_id"])
        .returning(WebhookEvent.id)
    )
    async with session.begin():
        inserted = await session.scalar(statement)
    return inserted is not None
