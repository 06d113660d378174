"""Bodies of the webhook routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class WebhookAck(BaseModel):
    received: bool
    duplicate: bool


class InboxEvent(BaseModel):
    id: str
    type: str
    status: str
    attempts: int
    last_error: str | None
    received_at: datetime
    next_attempt_at: datetime
    processed_at: datetime | None


class InboxEventDetail(InboxEvent):
    """One inbox event with what Stripe sent, personal values masked."""

    api_version: str | None
    livemode: bool
    created: datetime
    payload: dict[str, Any] | None = Field(
        description="The event as stored, each personal value shown as"
        " `[personal data]`; null once retention has emptied it"
    )


class InboxPage(BaseModel):
    data: list[InboxEvent]
    has_more: bool
    next_cursor: str | None
