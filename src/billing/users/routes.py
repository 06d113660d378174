"""/api/admin/users: find a user and see who they are; /api/financial/credits/{id}/usage:
their credits spent and granted per day."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.requests import Request

from billing.auth.dependencies import AdminPrincipal, SelfOrAdmin, UserId
from billing.core.config import Settings
from billing.core.times import utcnow
from billing.db.engine import get_database
from billing.reporting.dashboard.routes import DAY_PATTERN, parse_day
from billing.reporting.dashboard.service import date_range
from billing.users import service
from billing.users.schemas import CreditUsage, UserProfile, UserSearch

router = APIRouter(tags=["users"])


@router.get("/api/admin/users")
async def search_users(
    request: Request,
    principal: AdminPrincipal,
    query: Annotated[str, Query(min_length=1, max_length=320, pattern=r"^[^\x00]*$")],
) -> UserSearch:
    """Users by id, by email (matched through a keyed hash: emails are encrypted) or by
    Stripe customer id; at most 20."""
    settings: Settings = request.app.state.settings
    async with get_database(request).sessions() as session:
        return UserSearch(data=await service.search(session, settings, query))


@router.get("/api/admin/users/{user_id}")
async def get_user(user_id: UserId, principal: AdminPrincipal, request: Request) -> UserProfile:
    """Who the user is (email and name decrypted) and what their wallet holds."""
    settings: Settings = request.app.state.settings
    async with get_database(request).sessions() as session:
        return await service.profile(session, settings, user_id)


@router.get("/api/financial/credits/{user_id}/usage")
async def credit_usage(
    user_id: UserId,
    principal: SelfOrAdmin,
    request: Request,
    from_: Annotated[
        str | None, Query(alias="from", pattern=DAY_PATTERN, description="First UTC day")
    ] = None,
    to: Annotated[str | None, Query(pattern=DAY_PATTERN, description="Last UTC day")] = None,
) -> CreditUsage:
    """Credits spent and granted on each UTC day; the last 30 days unless a range is given."""
    days = date_range(parse_day(from_, "from"), parse_day(to, "to"), utcnow().date())
    async with get_database(request).sessions() as session:
        return await service.usage(session, user_id, days)
