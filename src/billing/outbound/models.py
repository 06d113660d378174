"""Endpoints: where the platform wants to hear about events, and the secrets that sign them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
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
