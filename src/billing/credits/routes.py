"""/api/financial/credits: balances, history, admin grants and spends; and
/api/financial/usage, metered debits in batches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from billing.auth.dependencies import AdminPrincipal, SelfServiceOrAdmin, ServiceOrAdmin, UserId
from billing.auth.principals import Principal
from billing.core.errors import ValidationProblem
from billing.credits import service
from billing.credits.accounts import ADMIN_GRANT, SPEND
from billing.credits.schemas import (
    AddCreditsRequest,
    CreditBalance,
    CreditHistoryItem,
    CreditHistoryPage,
    CreditTransactionResult,
    SpendCreditsRequest,
    UsageBatch,
    UsageResults,
)
from billing.credits.transfers import Transfer
from billing.credits.usage import ledger_key, post_usage
from billing.db.engine import get_database
from billing.idempotency.route import IdempotentRoute, idempotency_key
from billing.idempotency.store import REPLAY_HEADER

router = APIRouter(prefix="/api/financial/credits", tags=["credits"], route_class=IdempotentRoute)
usage_router = APIRouter(prefix="/api/financial", tags=["usage"], route_class=IdempotentRoute)


def _ledger_key(request: Request, principal: Principal, body_key: str | None) -> str | None:
    """The caller's Idempotency-Key, namespaced by caller, keys the ledger transaction."""
    key = idempotency_key(request)
    if body_key is not None and body_key != key:
        raise ValidationProblem("idempotency_key was not taken as this request's key.")
    return ledger_key(principal.scope, key) if key is not None else None


async def _post(
    request: Request, response: Response, transfer: Transfer
) -> CreditTransactionResult:
    posted = await service.post(get_database(request), transfer)
    if posted.replayed:  # answered from the ledger: the first response was never stored
        response.headers[REPLAY_HEADER] = "true"
    return CreditTransactionResult(
        transaction_id=posted.transaction_id,
        user_id=posted.user_id,
        amount=posted.amount,
        balance=posted.balance,
        created_at=posted.created_at,
    )


@router.get("/{user_id}")
async def get_balance(
    user_id: UserId, principal: SelfServiceOrAdmin, request: Request
) -> CreditBalance:
    # Sessions open in the handlers: a generator dependency costs more on hot paths.
    async with get_database(request).sessions() as session:
        current = await service.balance(session, user_id)
    return CreditBalance(
        user_id=current.user_id, balance=current.balance, updated_at=current.updated_at
    )


@router.get("/{user_id}/transactions")
async def list_transactions(
    user_id: UserId,
    principal: SelfServiceOrAdmin,
    request: Request,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CreditHistoryPage:
    async with get_database(request).sessions() as session:
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
    response: Response,
    principal: AdminPrincipal,
) -> CreditTransactionResult:
    transfer = Transfer(
        kind=ADMIN_GRANT,
        user_id=user_id,
        amount=body.amount,
        actor=principal.scope,
        idempotency_key=_ledger_key(request, principal, body.idempotency_key),
        description=body.reason,
        expires_at=body.expires_at,
    )
    return await _post(request, response, transfer)


@router.post("/{user_id}/spend")
async def spend_credits(
    user_id: UserId,
    body: SpendCreditsRequest,
    request: Request,
    response: Response,
    principal: SelfServiceOrAdmin,
) -> CreditTransactionResult:
    transfer = Transfer(
        kind=SPEND,
        user_id=user_id,
        amount=body.amount,
        actor=principal.scope,
        idempotency_key=_ledger_key(request, principal, body.idempotency_key),
        description=body.description,
        metadata=body.metadata,
    )
    return await _post(request, response, transfer)


@usage_router.post("/usage")
async def report_usage(
    body: UsageBatch, request: Request, principal: ServiceOrAdmin
) -> UsageResults:
    """Up to 1,000 debits, each posted on its own; an answer per event, in order."""
    results = await post_usage(get_database(request), principal.scope, body.events)
    return UsageResults(results=results)
