"""The outbox: what a change tells the platform, written in the change's own transaction.

A message is a row committed with the change that caused it, so it is never sent for a
change that rolled back and never lost for one that committed. Any domain writes it
(`write`, in the caller's session); `billing.outbound` fans it out to the subscribed
endpoints and sends it. The body is stored as it will be sent, so every retry signs the
same bytes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import BigInteger, Index, String, Text, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from billing.core.times import utcnow
from billing.db.types import Base, BigIntId, UTCDateTime

NOT_FANNED_OUT = text("fanned_out_at IS NULL")


class OutboxMessage(Base):
    __tablename__ = "webhook_messages"
    __table_args__ = (
        # What the dispatcher has yet to fan out to endpoints: only the newest rows.
        Index(
            "ix_webhook_messages_new",
            "id",
            postgresql_where=NOT_FANNED_OUT,
            sqlite_where=NOT_FANNED_OUT,
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)  # `webhook-id`
    type: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def message(
    type_: str, data: dict[str, Any], user_id: int | None, at: datetime | None = None
) -> OutboxMessage:
    """A message of `type_` whose `data` carries `user_id` and the object, sent as of
    `at` (the change's own time; default: now)."""
    now = at or utcnow()
    body = {"type": type_, "timestamp": now, "data": {"user_id": user_id, **data}}
    return OutboxMessage(
        message_id=f"msg_{uuid.uuid4().hex}",
        type=type_,
        user_id=user_id,
        body=orjson.dumps(body, option=orjson.OPT_UTC_Z).decode(),
        created_at=now,
    )


def write(
    session: AsyncSession,
    type_: str,
    data: dict[str, Any],
    user_id: int | None,
    at: datetime | None = None,
) -> OutboxMessage:
    """Add the message to the session's transaction: it commits or rolls back with it."""
    row = message(type_, data, user_id, at)
    session.add(row)
    return row
