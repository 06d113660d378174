"""Shared set-up for the personal data, export, erasure and retention tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select

from billing.compliance.personal_data import remember_contact
from billing.core.config import Settings
from billing.core.times import utcnow
from billing.db.engine import Database
from billing.payments import customers
from billing.payments.models import StripeCustomer
from billing.webhooks.models import WebhookEvent

EXPORT = "/api/financial/export"
empty_payload = WebhookEvent.payload.is_(None).label("empty")


def with_keys(settings: Settings, *keys: bytes) -> Settings:
    """`settings` with BILLING_ENCRYPTION_KEYS set to `keys`, the first encrypting."""
    listed = ",".join(key.decode() for key in keys)
    return settings.model_copy(update={"BILLING_ENCRYPTION_KEYS": SecretStr(listed)})


def new_key() -> bytes:
    return Fernet.generate_key()


async def customer_with_contact(
    database: Database,
    settings: Settings,
    user_id: int,
    email: str | None = "ada@example.com",
    name: str | None = "Ada Lovelace",
    customer_id: str | None = None,
) -> str:
    """A customer row for the user (an invented Stripe id unless given), with contact data."""
    async with database.sessions() as session, session.begin():
        stored = await customers.link(session, user_id, customer_id or f"cus_test{user_id}")
        assert await remember_contact(session, settings, user_id, email, name)
    return stored


async def stored_row(database: Database, user_id: int) -> StripeCustomer:
    async with database.sessions() as session:
        row = await session.scalar(select(StripeCustomer).where(StripeCustomer.user_id == user_id))
    assert row is not None
    return row


def webhook_event(
    status: str, received_at: datetime | None = None, obj: dict[str, Any] | None = None
) -> WebhookEvent:
    """An inbox row as the worker leaves it, received at `received_at`."""
    at = received_at or utcnow()
    event_id = f"evt_{uuid.uuid4().hex[:24]}"
    payload = {"id": event_id, "object": "event", "data": {"object": obj or {"id": "x"}}}
    return WebhookEvent(
        stripe_event_id=event_id,
        type="customer.updated",
        api_version=None,
        livemode=False,
        created=at - timedelta(seconds=1),
        payload=payload,
        status=status,
        attempts=1,
        next_attempt_at=at,
        received_at=at,
        processed_at=at if status in ("processed", "ignored") else None,
    )


async def without_payload(database: Database, ids: Iterable[int]) -> set[int]:
    """Which of these inbox rows have no payload (SQL NULL, not JSON null); each must
    still exist, with its type and status."""
    wanted = list(ids)
    async with database.sessions() as session:
        rows = (
            await session.execute(
                select(
                    WebhookEvent.id, WebhookEvent.type, WebhookEvent.status, empty_payload
                ).where(WebhookEvent.id.in_(wanted))
            )
        ).all()
    assert sorted(row.id for row in rows) == sorted(wanted)
    assert all(row.type and row.status for row in rows)
    return {row.id for row in rows if row.empty}
