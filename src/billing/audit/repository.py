"""Reading the audit log: filtered pages for admins, a user's entries for their export."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit.models import AuditEntry


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    user_id: int | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def apply(self, query: Select[AuditEntry]) -> Select[AuditEntry]:
        for column, value in (
            (AuditEntry.actor, self.actor),
            (AuditEntry.action, self.action),
            (AuditEntry.target, self.target),
            (AuditEntry.user_id, self.user_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.since is not None:
            query = query.where(AuditEntry.created_at >= self.since)
        if self.until is not None:
            query = query.where(AuditEntry.created_at < self.until)
        return query


async def entries(
    session: AsyncSession, matching: AuditFilter, before_id: int | None, limit: int
) -> Sequence[AuditEntry]:
    """Entries matching the filter, newest first, below `before_id` if given."""
    query = matching.apply(select(AuditEntry)).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return (await session.scalars(query)).all()


async def for_user(session: AsyncSession, user_id: int) -> list[AuditEntry]:
    """Every entry about a user (their export), oldest first."""
    query = select(AuditEntry).where(AuditEntry.user_id == user_id).order_by(AuditEntry.id)
    return list(await session.scalars(query))
