"""Bodies of the webhook routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


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


class InboxPage(BaseModel):
    data: list[InboxEvent]
    has_more: bool
    next_cursor: str | None
