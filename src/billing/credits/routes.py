"""/api/financial/credits: balances, history, admin grants and spends; and
/api/financial/usage, metered debits in batches."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Path, Query
from starlette.requests import Request
from starlette.responses import Response

from billing.auth.dependencies import AdminPrincipal, SelfServiceOrAdmin, ServiceOrAdmin, UserId
from billing.auth.principals import Principal
from billing.core.errors import ValidationProblem
from billing.core.ids import MAX_USER_ID
from billing.credits import balances, grant_service, service
from billing.credits.accounts import ADMIN_GRANT, SPEND
from billing.credits.grant_service import GrantView
from billing.credits.grants import GrantSource, GrantTerms
from billing.credits.schemas import (
    AddCreditsRequest,
    AddCreditsResult,
    CreditBalance,
    CreditHistoryItem,
    CreditHistoryPage,
    CreditTransactionResult,
    ExpiringCredits,
    Grant,
    GrantList,
    GrantStatus,
    SpendCreditsRequest,
    UsageBatch,
    UsageResults,
    VoidGrantRequest,
    VoidGrantResult,
)
from billing.credits.transfers import Posted, Transfer
from billing.credits.usage import ledger_key, post_usage
from billing.db.engine import get_database
from billing.db.replica import get_read_database
from billing.idempotency.route import IdempotentRoute, idempotency_key
from billing.idempotency.store import REPLAY_HEADER

router = APIRouter(prefix="/api/financial/credits", tags=["credits"], route_class=IdempotentRoute)
usage_router = APIRouter(prefix="/api/financial", tags=["usage"], route_class=IdempotentRoute)


def request_ledger_key(request: Request, principal: Principal, body_key: str | None) -> str | None:
    """The caller's Idempotency-Key, namespaced by caller, keys the ledger transaction."""
    key = idempotency_key(request)
    if body_key is not None and body_key != key:
        raise ValidationProblem("idempotency_key was not taken as this request's key.")
    return ledger_key(principal.scope, key) if key is not None else None


def mark_replay(response: Response, replayed: bool) -> None:
    if replayed:  # answered from the ledger: the first response was never stored
        response.headers[REPLAY_HEADER] = "true"


async def _post(request: Request, response: Response, transfer: Transfer) -> Posted:
    posted = await service.post(get_database(request), transfer)
    mark_replay(response, posted.replayed)
    return posted


def _result(posted: Posted) -> CreditTransactionResult:
    return CreditTransactionResult(
        transaction_id=posted.transaction_id,
        user_id=posted.user_id,
        amount=posted.amount,
        balance=posted.balance,
        created_at=posted.created_at,
    )


def _grant(view: GrantView) -> Grant:
    found = view.grant
    return Grant(
        id=found.id,
        user_id=found.user_id,
        source=cast(GrantSource, found.source),
        amount=found.amount,
        remaining=view.remaining,
        priority=found.priority,
        effective_at=found.effective_at,
        expires_at=found.expires_at,
        status=cast(GrantStatus, view.status),
        reference=found.reference,
        created_at=found.created_at,
    )


@router.get("/{user_id}")
async def get_balance(
    user_id: UserId, principal: SelfServiceOrAdmin, request: Request
) -> CreditBalance:
    # Sessions open in the handlers: a generator dependency costs more on hot paths.
    async with get_database(request).sessions() as session:
        current = await balances.balance(session, user_id)
    return CreditBalance(
        user_id=current.user_id,
        balance=current.balance,
        held=current.held,
        expiring=[
            ExpiringCredits(amount=soon.amount, expires_at=soon.expires_at)
            for soon in current.expiring
        ],
        updated_at=current.updated_at,
    )


@router.get("/{user_id}/transactions")
async def list_transactions(
    user_id: UserId,
    principal: SelfServiceOrAdmin,
    request: Request,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CreditHistoryPage:
    async with (await get_read_database(request)).sessions() as session:
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
) -> AddCreditsResult:
    """Open a grant: `expires_at` (none: never), `priority` and `source` set how it is spent."""
    transfer = Transfer(
        kind=ADMIN_GRANT,
        user_id=user_id,
        amount=body.amount,
        actor=principal.scope,
        idempotency_key=request_ledger_key(request, principal, body.idempotency_key),
        description=body.reason,
        grant=GrantTerms(body.source, body.priority, body.expires_at),
    )
    posted = await _post(request, response, transfer)
    assert posted.grant_id is not None, "a credit opens a grant"
    async with get_database(request).sessions() as session:
        opened = await grant_service.grant(session, user_id, posted.grant_id)
    return AddCreditsResult(**_result(posted).model_dump(), grant=_grant(opened))


@router.get("/{user_id}/grants")
async def list_grants(
    user_id: UserId,
    principal: SelfServiceOrAdmin,
    request: Request,
    status: GrantStatus | None = None,
) -> GrantList:
    async with get_database(request).sessions() as session:
        views = await grant_service.list_grants(session, user_id, status)
    return GrantList(data=[_grant(view) for view in views])


@router.post("/{user_id}/grants/{grant_id}/void")
async def void_grant(
    user_id: UserId,
    grant_id: Annotated[int, Path(gt=0, le=MAX_USER_ID)],
    body: VoidGrantRequest,
    request: Request,
    response: Response,
    principal: AdminPrincipal,
) -> VoidGrantResult:
    """Remove what remains of an active grant; 409 `conflict` for any other."""
    posted, after = await grant_service.void(
        get_database(request),
        user_id,
        grant_id,
        reason=body.reason,
        actor=principal.scope,
        key=request_ledger_key(request, principal, body.idempotency_key),
    )
    mark_replay(response, posted.replayed)
    return VoidGrantResult(
        grant=_grant(after), transaction_id=posted.transaction_id, balance=posted.balance
    )


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
        idempotency_key=request_ledger_key(request, principal, body.idempotency_key),
        description=body.description,
        metadata=body.metadata,
    )
    return _result(await _post(request, response, transfer))


@usage_router.post("/usage")
async def report_usage(
    body: UsageBatch, request: Request, principal: ServiceOrAdmin
) -> UsageResults:
    """Up to 1,000 debits, each posted on its own; an answer per event, in order."""
    results = await post_usage(get_database(request), principal.scope, body.events)
    return UsageResults(results=results)
