"""A user's payment data: exported (self or admin) and its personal part erased (admin)."""

from __future__ import annotations

from typing import Annotated, Any

import stripe
from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import StreamingResponse

from billing.auth.dependencies import AdminPrincipal, SelfOrAdmin, UserId
from billing.compliance.erasure import Erasure, erase_personal_data
from billing.compliance.export import open_export
from billing.core.config import Settings
from billing.db.engine import get_database
from billing.idempotency.route import IdempotentRoute
from billing.stripe.client import get_stripe

router = APIRouter(tags=["compliance"], route_class=IdempotentRoute)
EXPORT_DOCUMENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The user's customer (email and name decrypted), payments,"
        " subscriptions, credit transactions with their entries and audit entries.",
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
    chunks = await open_export(get_database(request), settings, user_id)
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
    return await erase_personal_data(get_database(request), client, user_id, principal.scope)
