"""Auto top-up: each user's terms, and each top-up the worker starts.

A top-up is `charging` from the moment the worker takes the wallet's request until Stripe
answers, `pending` until `payment_intent.succeeded` credits it, then `succeeded`; or
`failed` (declined, or authentication required), `limit_reached` (it would pass the
monthly limit: not made) or `canceled` (auto top-up was turned off meanwhile). At most
one is `charging` or `pending` per user (a unique index says so too).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from billing.db.types import Base, BigIntId, UTCDateTime

CHARGING, PENDING, SUCCEEDED = "charging", "pending", "succeeded"
FAILED, LIMIT_REACHED, CANCELED = "failed", "limit_reached", "canceled"
IN_FLIGHT = text("status IN ('charging', 'pending')")
STILL_CHARGING = text("status = 'charging'")


class AutoTopupSettings(Base):
    __tablename__ = "auto_topup_settings"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    enabled: Mapped[bool]
    threshold: Mapped[int] = mapped_column(BigInteger)  # credits
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units of `currency`
    currency: Mapped[str] = mapped_column(String(3))
    monthly_limit: Mapped[int] = mapped_column(BigInteger)  # minor units, per UTC month
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pause_reason: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AutoTopup(Base):
    __tablename__ = "auto_topups"
    __table_args__ = (
        Index(
            "uq_auto_topups_in_flight",
            "user_id",
            unique=True,
            postgresql_where=IN_FLIGHT,
            sqlite_where=IN_FLIGHT,
        ),
        # The worker's: charges whose worker died before Stripe answered.
        Index(
            "ix_auto_topups_charging",
            "claimed_until",
            postgresql_where=STILL_CHARGING,
            sqlite_where=STILL_CHARGING,
        ),
        Index("ix_auto_topups_user_id", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)  # the Stripe key's sequence
    user_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    credits: Mapped[int | None] = mapped_column(BigInteger)  # None: its terms were refused
    payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
