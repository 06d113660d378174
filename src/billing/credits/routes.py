"""/api/financial/credits: balances, history, admin grants and spends."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from billing.auth import AdminPrincipal, Principal, SelfServiceOrAdmin, UserId
from billing.credits import service
from billing.credits.accounts import ADMIN_GRANT, SPEND
from billing.credits.schemas import (
    AddCreditsRequest,
    CreditBalance,
    CreditHistoryItem,
    CreditHistoryPage,
    CreditTransactionResult,
    SpendCreditsRequest,
)
from billing.db import get_session
from billing.idempotency import IdempotentRoute, idempotency_key

router = APIRouter(prefix="/api/financial/credits", tags=["credits"], route_class=IdempotentRoute)
Session = Annotated[AsyncSession, Depends(get_session)]


def _ledger_key(principal: Principal, request: Request) -> str | None:
    """The API caller's key, namespaced by caller, becomes the ledger transaction's key."""
    key = idempotency_key(request)
    return f"api:{principal.scope}:{key}" if key is not None else None


def _result(posted: service.Posted) -> CreditTransactionResult:
    return CreditTransactionResult(
        transaction_id=posted.transaction_id,
        user_id=posted.user_id,
        amount=posted.amount,
        balance=posted.balance,
        created_at=posted.created_at,
    )


@router.get("/{user_id}")
async def get_balance(
    user_id: UserId, principal: SelfServiceOrAdmin, session: Session
) -> CreditBalance:
    current = await service.balance(session, user_id)
    return CreditBalance(
        user_id=current.user_id, balance=current.balance, updated_at=current.updated_at
    )


@router.get("/{user_id}/transactions")
async def list_transactions(
    user_id: UserId,
    principal: SelfServiceOrAdmin,
    session: Session,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CreditHistoryPage:
    items, next_cursor = await service.history(session, user_id, cursor, limit)
    return CreditHistoryPage(
        data=[
            CreditHistoryItem(
                id=item.transaction.id,
                kind=item.transaction.kind,
                amount=item.change,
                balance_after=item.balance_after,
                description=item.transaction.description,
                reference=item.transaction.reference,
                metadata=item.transaction.metadata_,
                expires_at=item.transaction.expires_at,
                created_at=item.transaction.created_at,
            )
            for item in items
        ],
        has_more=next_cursor is not None,
        next_cursor=next_cursor,
    )


@router.post("/{user_id}/add")
async def add_credits(
    user_id: UserId,
    body: AddCreditsRequest,
    request: Request,
    principal: AdminPrincipal,
    session: Session,
) -> CreditTransactionResult:
    transfer = service.Transfer(
        kind=ADMIN_GRANT,
        user_id=user_id,
        amount=body.amount,
        actor=principal.scope,
        idempotency_key=_ledger_key(principal, request),
        description=body.reason,
        expires_at=body.expires_at,
    )
    return _result(await service.post(session, transfer))


@router.post("/{user_id}/spend")
async def spend_credits(
    user_id: UserId,
    body: SpendCreditsRequest,
    request: Request,
    principal: SelfServiceOrAdmin,
    session: Session,
) -> CreditTransactionResult:
    transfer = service.Transfer(
        kind=SPEND,
        user_id=user_id,
        amount=body.amount,
        actor=principal.scope,
        idempotency_key=_ledger_key(principal, request),
        description=body.description,
        metadata=body.metadata,
    )
    return _result(await service.post(session, transfer))
