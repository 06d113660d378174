"""/api/financial/subscriptions: a user's subscription summary."""

from __future__ import annotations

from typing import Annotated

import stripe
from fastapi import APIRouter, Depends
from starlette.requests import Request

from billing.auth.dependencies import SelfOrAdmin, UserId
from billing.db.engine import get_database
from billing.reporting.schemas import SubscriptionSummary
from billing.reporting.service import subscription_summary
from billing.stripe.client import get_stripe

router = APIRouter(prefix="/api/financial/subscriptions", tags=["reporting"])


@router.get("/{user_id}/summary")
async def get_subscription_summary(
    user_id: UserId,
    principal: SelfOrAdmin,
    request: Request,
    client: Annotated[stripe.StripeClient, Depends(get_stripe)],
) -> SubscriptionSummary:
    """Plan, status, renewal, credits per cycle, and totals paid and granted."""
    async with get_database(request).sessions() as session:
        return await subscription_summary(session, client, user_id)
