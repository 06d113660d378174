"""Endpoints: where the platform wants to hear about events, and the secrets that sign them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from billing.db.types import Base, BigIntId, JSONDocument, UTCDateTime


class WebhookEndpoint(Base):
    """Secrets are stored encrypted under `BILLING_ENCRYPTION_KEYS` (the service needs
    them back to sign). During a rotation the previous secret signs too, until
    `previous_secret_until`. A deleted endpoint keeps its row (`deleted_at`) so what was
    sent to it stays explained."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(500))
    events: Mapped[list[str]] = mapped_column(JSONDocument)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
DUE = text("status = 'pending'")


class WebhookDelivery(Base):
    """One message to one endpoint. `pending` until a 2xx answer (`delivered`) or the
    last retry (`failed`); while an attempt is in flight, `next_attempt_at` is the end of
    its lease, after which another worker may try again (same `webhook-id`)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("message_id", "endpoint_id"),
        Index(
            "ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=DUE, sqlite_where=DUE
        ),
        Index("ix_webhook_deliveries_endpoint_id", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigIntId)  # the outbox row
    endpoint_id: Mapped[int] = mapped_column(BigIntId)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookAttempt(Base):
    """Every request made: its answer's status and first KiB, or what went wrong."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(BigIntId, index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(500))
