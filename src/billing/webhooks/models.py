"""The inbox: every verified Stripe event, stored before it is acknowledged."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billing.db.types import Base, BigIntId, JSONDocument, UTCDateTime

# An inbox event's status: one definition, with a constant for each.
EventStatus = Literal["pending", "processed", "ignored", "failed", "dead"]
PENDING: Final[EventStatus] = "pending"  # received, not yet handled
PROCESSED: Final[EventStatus] = "processed"  # its handler's effects committed
IGNORED: Final[EventStatus] = "ignored"  # no handler for its type
FAILED: Final[EventStatus] = "failed"  # its handler failed; retried with backoff
DEAD: Final[EventStatus] = "dead"  # failed every attempt; an admin may replay it
DUE_STATUSES: Final = (PENDING, FAILED)  # what workers take, once due
DONE_STATUSES: Final = (PROCESSED, IGNORED, DEAD)  # final: retention may prune them


class WebhookEvent(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_status_next_attempt", "status", "next_attempt_at"),
        # The dashboard's webhook health: an index-only scan on PostgreSQL.
        Index(
            "ix_webhook_events_received_at",
            "received_at",
            postgresql_include=["status", "processed_at"],
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    stripe_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    api_version: Mapped[str | None] = mapped_column(String(32))
    livemode: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
