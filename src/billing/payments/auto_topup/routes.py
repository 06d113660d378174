"""/api/financial/credits/{user_id}/settings: the low-balance threshold and auto top-up."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request

from billing.auth.dependencies import SelfOrAdmin, SelfServiceOrAdmin, UserId
from billing.db.engine import get_database
from billing.payments.auto_topup import settings
from billing.payments.auto_topup.schemas import CreditSettings, CreditSettingsView
from billing.payments.routes import app_settings

router = APIRouter(prefix="/api/financial/credits", tags=["credits"])


@router.get("/{user_id}/settings")
async def get_settings(
    user_id: UserId, principal: SelfServiceOrAdmin, request: Request
) -> CreditSettingsView:
    async with get_database(request).sessions() as session:
        return await settings.read(session, user_id)


@router.put("/{user_id}/settings")
async def put_settings(
    user_id: UserId,
    body: CreditSettings,
    principal: SelfOrAdmin,
    request: Request,
) -> CreditSettingsView:
    """Replace them whole. Enabling auto top-up needs a saved card (422
    `payment_method_required`); saving resumes one a decline paused."""
    async with get_database(request).sessions() as session:
        return await settings.save(
            session, request.app.state.stripe, app_settings(request), user_id, body, principal.scope
        )
