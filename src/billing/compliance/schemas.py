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


class BrokenLink(BaseModel):
    id: int
    seq: int
    reason: str


class AuditChainOut(BaseModel):
    """The hash chain as verified now: sealed through `head_seq`, or broken at `broken`."""

    verified: bool  # every sealed entry's hash and link checked, and none broken
    sealed: int  # entries chained and checked, up to the head or the break
    unsealed: int  # committed entries the sealer has not chained yet (about a second)
    head_seq: int
    head_hash: str  # keep it elsewhere: a later verify must reach the same hash
    broken: BrokenLink | None
