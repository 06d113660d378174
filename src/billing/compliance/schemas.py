"""Bodies of the audit route."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEntryOut(BaseModel):
    id: int
    created_at: datetime
    actor: str
    action: str
    target: str
    user_id: int | None
    request_id: str | None  # the server's id of the request, or the Stripe event's
    caller_request_id: str | None  # the caller's own X-Request-ID, if it sent one
    details: dict[str, Any] | None
    seq: int | None  # None until the sealer chains it (about a second)
    prev_hash: str | None
    hash: str | None


class AuditPage(BaseModel):
    data: list[AuditEntryOut]
    has_more: bool
    next_cursor: str | None
