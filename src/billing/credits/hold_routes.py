"""/api/financial/credits/{user_id}/holds: reserve credits now, capture or release later.

Callers are those of a spend: the user, a service key, an admin. Every POST is keyed
like a spend (`Idempotency-Key`, also the key of its ledger transaction)."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from starlette.requests import Request
from starlette.responses import Response

from billing.auth.dependencies import SelfServiceOrAdmin, UserId
from billing.auth.principals import Principal
from billing.core.ids import MAX_USER_ID
from billing.credits import holds
from billing.credits.accounts import HOLD_CAPTURE, HOLD_RELEASE
from billing.credits.hold_repository import HoldView
from billing.credits.hold_schemas import (
    CapturedHold,
    CaptureHoldRequest,
    Hold,
    HoldPage,
    PlacedHold,
    PlaceHoldRequest,
    ReleasedHold,
    ReleaseHoldRequest,
)
from billing.credits.hold_settlement import Settled, Settlement
from billing.credits.models import CAPTURED, RELEASED
from billing.credits.routes import mark_replay, request_ledger_key
from billing.db.engine import get_database
from billing.idempotency.route import IdempotentRoute

router = APIRouter(prefix="/api/financial/credits", tags=["holds"], route_class=IdempotentRoute)
HoldId = Annotated[int, Path(gt=0, le=MAX_USER_ID)]


def _hold(view: HoldView) -> Hold:
    return Hold.model_validate(asdict(view))


@router.post("/{user_id}/holds", status_code=201)
async def place_hold(
    user_id: UserId,
    body: PlaceHoldRequest,
    request: Request,
    response: Response,
    principal: SelfServiceOrAdmin,
) -> PlacedHold:
    """Reserve credits: they leave `balance` at once; 402 `insufficient_credits` if short."""
    new = holds.NewHold(
        user_id=user_id,
        amount=body.amount,
        actor=principal.scope,
        expires_in=body.expires_in,
        description=body.description,
        metadata=body.metadata,
        idempotency_key=request_ledger_key(request, principal, body.idempotency_key),
    )
    placed = await holds.place(get_database(request), new)
    mark_replay(response, placed.replayed)
    return PlacedHold(**asdict(placed.hold), balance=placed.balance)


@router.get("/{user_id}/holds")
async def list_holds(
    user_id: UserId,
    principal: SelfServiceOrAdmin,
    request: Request,
    status: Literal["active", "all"] = "active",
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> HoldPage:
    async with get_database(request).sessions() as session:
        found, next_cursor = await holds.list_holds(
            session, user_id, status == "active", cursor, limit
        )
    return HoldPage(
        data=[_hold(view) for view in found],
        has_more=next_cursor is not None,
        next_cursor=next_cursor,
    )


async def _settle(
    request: Request,
    response: Response,
    principal: Principal,
    settlement: Settlement,
    body_key: str | None,
) -> Settled:
    key = request_ledger_key(request, principal, body_key)
    settled = await holds.settle(get_database(request), replace(settlement, idempotency_key=key))
    mark_replay(response, settled.replayed)
    return settled


@router.post("/{user_id}/holds/{hold_id}/capture")
async def capture_hold(
    user_id: UserId,
    hold_id: HoldId,
    request: Request,
    response: Response,
    principal: SelfServiceOrAdmin,
    body: CaptureHoldRequest | None = None,
) -> CapturedHold:
    """Capture `amount` (default: all) and give the rest back to the grants it came
    from; 409 `hold_not_active` once settled, 422 for more than the hold holds."""
    body = body or CaptureHoldRequest()
    settlement = Settlement(
        hold_id, user_id, HOLD_CAPTURE, CAPTURED, principal.scope, capture=body.amount
    )
    settled = await _settle(request, response, principal, settlement, body.idempotency_key)
    return CapturedHold(
        hold=_hold(settled.hold), transaction_id=settled.transaction_id, balance=settled.balance
    )


@router.post("/{user_id}/holds/{hold_id}/release")
async def release_hold(
    user_id: UserId,
    hold_id: HoldId,
    request: Request,
    response: Response,
    principal: SelfServiceOrAdmin,
    body: ReleaseHoldRequest | None = None,
) -> ReleasedHold:
    """Give every held credit back to the grant it came from; 409 once settled."""
    body = body or ReleaseHoldRequest()
    settlement = Settlement(hold_id, user_id, HOLD_RELEASE, RELEASED, principal.scope)
    settled = await _settle(request, response, principal, settlement, body.idempotency_key)
    return ReleasedHold(hold=_hold(settled.hold), balance=settled.balance)
