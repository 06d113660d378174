"""/api/admin/webhook-endpoints and /api/admin/webhook-deliveries: the platform's
receivers and what was sent to them, managed by an admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.requests import Request
from starlette.responses import Response

from billing.auth.dependencies import AdminPrincipal
from billing.core.config import Settings
from billing.core.ids import MAX_ROW_ID
from billing.core.pagination import decode_cursor, page_of
from billing.db.engine import get_database
from billing.idempotency.route import IdempotentRoute
from billing.outbound import deliveries, service
from billing.outbound.schemas import (
    CreateEndpointRequest,
    Delivery,
    DeliveryPage,
    DeliveryStatus,
    Endpoint,
    EndpointList,
    EndpointWithSecret,
)

router = APIRouter(
    prefix="/api/admin/webhook-endpoints", tags=["webhook endpoints"], route_class=IdempotentRoute
)
deliveries_router = APIRouter(
    prefix="/api/admin/webhook-deliveries", tags=["webhook endpoints"], route_class=IdempotentRoute
)


RowId = Annotated[int, Path(gt=0, le=MAX_ROW_ID)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _with_secret(endpoint: Endpoint, secret: str) -> EndpointWithSecret:
    return EndpointWithSecret(**endpoint.model_dump(), secret=secret)


@router.post("", status_code=201)
async def create_endpoint(
    body: CreateEndpointRequest, request: Request, principal: AdminPrincipal
) -> EndpointWithSecret:
    """Production takes only https URLs that resolve to public addresses."""
    async with get_database(request).sessions() as session:
        endpoint, secret = await service.create(
            session,
            _settings(request),
            url=body.url,
            events=body.events,
            description=body.description,
            actor=principal.scope,
        )
        return _with_secret(Endpoint.model_validate(endpoint), secret)


@router.get("")
async def list_endpoints(request: Request, principal: AdminPrincipal) -> EndpointList:
    async with get_database(request).sessions() as session:
        endpoints = await service.list_endpoints(session)
    return EndpointList(data=[Endpoint.model_validate(e) for e in endpoints])


@router.delete("/{endpoint_id}", status_code=204)
async def delete_endpoint(
    endpoint_id: RowId, request: Request, principal: AdminPrincipal
) -> Response:
    async with get_database(request).sessions() as session:
        await service.delete(session, endpoint_id, actor=principal.scope)
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret")
async def rotate_secret(
    endpoint_id: RowId, request: Request, principal: AdminPrincipal
) -> EndpointWithSecret:
    """A new secret, shown once; the old one keeps signing beside it for 24 hours."""
    async with get_database(request).sessions() as session:
        endpoint, secret = await service.rotate_secret(
            session, _settings(request), endpoint_id, actor=principal.scope
        )
        return _with_secret(Endpoint.model_validate(endpoint), secret)


@router.get("/{endpoint_id}/deliveries")
async def list_deliveries(
    endpoint_id: RowId,
    request: Request,
    principal: AdminPrincipal,
    status: DeliveryStatus | None = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DeliveryPage:
    async with get_database(request).sessions() as session:
        rows = await deliveries.of_endpoint(
            session, endpoint_id, status, decode_cursor(cursor), limit + 1
        )
    shown, after = page_of(rows, limit)
    return DeliveryPage(
        data=[Delivery.model_validate(row) for row in shown],
        has_more=after is not None,
        next_cursor=after,
    )


@deliveries_router.post("/{delivery_id}/retry")
async def retry_delivery(
    delivery_id: RowId, request: Request, principal: AdminPrincipal
) -> Delivery:
    """Send it again now (the same `webhook-id`), with a fresh round of retries."""
    async with get_database(request).sessions() as session:
        return Delivery.model_validate(
            await deliveries.retry(session, delivery_id, actor=principal.scope)
        )
