"""A user's payment data, exported (self or admin) and its personal part erased (admin);
the audit log, for admins."""

from __future__ import annotations

from typing import Annotated, Any

import stripe
from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime
from starlette.requests import Request
from starlette.responses import StreamingResponse

from billing.audit import repository as audit_log
from billing.audit.chain import verify_chain
from billing.auth.dependencies import AdminPrincipal, SelfOrAdmin, UserId
from billing.compliance.erasure import Erasure, erase_personal_data
from billing.compliance.export import open_export
from billing.compliance.schemas import AuditChainOut, AuditEntryOut, AuditPage, BrokenLink
from billing.core.config import Settings
from billing.core.errors import ValidationProblem
from billing.core.ids import MAX_USER_ID
from billing.core.pagination import decode_cursor, page_of
from billing.core.times import ISO_8601_ONLY
from billing.db.engine import get_database
from billing.db.replica import get_read_database
from billing.db.statements import read_in_one_snapshot, read_without_transaction
from billing.idempotency.route import IdempotentRoute
from billing.stripe.client import get_stripe

router = APIRouter(tags=["compliance"], route_class=IdempotentRoute)
EXPORT_DOCUMENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The user's customer (email and name decrypted), credit balance,"
        " payments, subscriptions, credit grants, credit transactions with their entries"
        " and audit entries.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.get(
    "/api/financial/export/{user_id}", response_class=StreamingResponse, responses=EXPORT_DOCUMENT
)
async def export_user_data(
    user_id: UserId, principal: SelfOrAdmin, request: Request
) -> StreamingResponse:
    """All of the user's payment data as one JSON document, streamed."""
    settings: Settings = request.app.state.settings
    chunks = await open_export(await get_read_database(request), settings, user_id)
    filename = f"billing-export-{user_id}.json"
    return StreamingResponse(
        chunks,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.delete("/api/users/{user_id}/personal-data")
async def erase_user_data(
    user_id: UserId,
    principal: AdminPrincipal,
    request: Request,
    client: Annotated[stripe.StripeClient, Depends(get_stripe)],
) -> Erasure:
    """Anonymise the user's personal data here and delete its Stripe customer; payments,
    subscriptions and the ledger are kept."""
    settings: Settings = request.app.state.settings
    return await erase_personal_data(
        get_database(request),
        client,
        user_id,
        principal.scope,
        legacy_before=settings.BILLING_LEGACY_METADATA_BEFORE,
    )


audit_router = APIRouter(prefix="/api/admin/audit", tags=["audit"])

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: 422, not a database error


@audit_router.get("")
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
    async with (await get_read_database(request)).sessions() as session:
        await read_without_transaction(session)
        rows = await audit_log.entries(session, matching, before, limit + 1)
    shown, after = page_of(rows, limit)
    return AuditPage(
        data=[AuditEntryOut.model_validate(row, from_attributes=True) for row in shown],
        has_more=after is not None,
        next_cursor=after,
    )


@audit_router.get("/chain")
async def audit_chain(request: Request, principal: AdminPrincipal) -> AuditChainOut:
    """Walk the audit log's hash chain now, from its first entry to its head or first break."""
    async with get_database(request).sessions() as session:
        await read_in_one_snapshot(session)
        report = await verify_chain(session)
    broken = report.broken
    return AuditChainOut(
        verified=broken is None,
        sealed=report.sealed,
        unsealed=report.unsealed,
        head_seq=report.head_seq,
        head_hash=report.head_hash,
        broken=BrokenLink(id=broken.id, seq=broken.seq, reason=broken.reason) if broken else None,
    )
