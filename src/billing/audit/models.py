"""The audit log table (the chain's design and invariants: `billing.audit.service`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from billing.db.types import Base, BigIntId, JSONDocument, UTCDateTime

UNSEALED, SEALED = text("seq IS NULL"), text("seq IS NOT NULL")


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        # The chain's order (partial: an unsealed entry costs its insert no entry here).
        Index("uq_audit_log_seq", "seq", unique=True, postgresql_where=SEALED, sqlite_where=SEALED),
        # The admin listing's filters, each newest first; the sealer's queue.
        Index("ix_audit_log_actor_id", "actor", "id"),
        Index("ix_audit_log_target_id", "target", "id"),
        Index("ix_audit_log_user_id_id", "user_id", "id"),
        # BRIN on PostgreSQL: entries arrive in time order, and it costs a posting ~nothing.
        Index("ix_audit_log_created_at", "created_at", postgresql_using="brin"),
        Index("ix_audit_log_unsealed", "id", postgresql_where=UNSEALED, sqlite_where=UNSEALED),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int | None] = mapped_column(BigInteger)  # the platform user concerned
    request_id: Mapped[str | None] = mapped_column(String(255))  # the server's, or an event's
    # The caller's own `X-Request-ID`, beside the server's: never trusted as the request's.
    caller_request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    # Set once, by the sealer: the position in the chain and the two hashes.
    seq: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
