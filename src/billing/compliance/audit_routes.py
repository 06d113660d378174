"""GET /api/admin/audit: the audit log, newest first, filtered, a page at a time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime
from starlette.requests import Request

from billing.audit import repository as audit_log
from billing.auth.dependencies import AdminPrincipal
from billing.compliance.schemas import AuditEntryOut, AuditPage
from billing.core.errors import ValidationProblem
from billing.core.ids import MAX_USER_ID
from billing.core.pagination import decode_cursor, encode_cursor
from billing.core.times import ISO_8601_ONLY
from billing.db.engine import get_database
from billing.db.statements import read_without_transaction

router = APIRouter(prefix="/api/admin/audit", tags=["audit"])

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: 422, not a database error


@router.get("")
async def list_audit(
    request: Request,
    principal: AdminPrincipal,
    actor: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    action: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    target: Annotated[str | None, Query(max_length=255, pattern=NO_NUL)] = None,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_USER_ID)] = None,
    since: Annotated[
        AwareDatetime | None,
        ISO_8601_ONLY,
        Query(alias="from", description="inclusive, with a timezone"),
    ] = None,
    until: Annotated[
        AwareDatetime | None,
        ISO_8601_ONLY,
        Query(alias="to", description="exclusive, with a timezone"),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> AuditPage:
    if since is not None and until is not None and since > until:
        raise ValidationProblem("`from` is after `to`.")
    matching = audit_log.AuditFilter(actor, action, target, user_id, since, until)
    before = decode_cursor(cursor)
    async with get_database(request).sessions() as session:
        await read_without_transaction(session)
        rows = await audit_log.entries(session, matching, before, limit + 1)
    more = len(rows) > limit
    return AuditPage(
        data=[AuditEntryOut.model_validate(row, from_attributes=True) for row in rows[:limit]],
        has_more=more,
        next_cursor=encode_cursor(rows[limit - 1].id) if more else None,
    )
