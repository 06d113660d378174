"""FastAPI dependencies: the request's principal, and the checks routes declare."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path
from pydantic import BeforeValidator, Field
from starlette.requests import Request

from billing.auth.api_keys import principal_for_api_key
from billing.auth.principals import Principal
from billing.auth.tokens import VerifiedTokens, bearer_token
from billing.core.errors import Forbidden, Unauthenticated
from billing.core.ids import MAX_USER_ID, parse_user_id

# Bounds before the validator: after it, OpenAPI would show them as `ge`/`le`, not JSON Schema.
UserId = Annotated[
    int,
    Field(ge=1, le=MAX_USER_ID),
    BeforeValidator(parse_user_id),
    Path(description="Platform user id (digits)"),
]


async def authenticate(request: Request) -> Principal:
    """The request's principal, resolved once and kept on the request."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    api_key = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization")
    if api_key:
        principal = await principal_for_api_key(request, api_key)
    elif authorization:
        tokens: VerifiedTokens = request.app.state.verified_tokens
        principal = tokens.principal(bearer_token(authorization))
    else:
        raise Unauthenticated()
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


async def require_admin(principal: CurrentPrincipal) -> Principal:
    if principal.role != "admin":
        raise Forbidden("This operation is for admins.")
    return principal


async def require_self_service_or_admin(user_id: UserId, principal: CurrentPrincipal) -> Principal:
    if not principal.may_access(user_id, service_allowed=True):
        raise Forbidden("These credentials may not act for this user.")
    return principal


async def require_self_or_admin(user_id: UserId, principal: CurrentPrincipal) -> Principal:
    if not principal.may_access(user_id, service_allowed=False):
        raise Forbidden("These credentials may not act for this user.")
    return principal


async def require_service_or_admin(principal: CurrentPrincipal) -> Principal:
    """A platform backend (a service API key) or an admin: never an end user's token."""
    if principal.role not in ("service", "admin"):
        raise Forbidden("This operation is for service API keys and admins.")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]

ServiceOrAdmin = Annotated[Principal, Depends(require_service_or_admin)]

SelfServiceOrAdmin = Annotated[Principal, Depends(require_self_service_or_admin)]

SelfOrAdmin = Annotated[Principal, Depends(require_self_or_admin)]
