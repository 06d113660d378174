"""Who is calling: a Principal from a bearer JWT or an API key, and what it may touch.

Roles: `user` (a platform user, from a JWT, only its own user_id), `service`
(an API key for server-to-server callers: read balances and spend for any
user) and `admin` (JWT or API key: everything). API keys are shown once at
creation; only their SHA-256 is stored, which is enough for keys with 256 bits
of entropy.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal

import jwt
from fastapi import Depends, Path
from pydantic import BeforeValidator, Field
from sqlalchemy import String, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.requests import Request

from billing.config import Settings
from billing.db import Base, BigIntId, UTCDateTime, get_database, utcnow
from billing.errors import Forbidden, Unauthenticated

Role = Literal["user", "service", "admin"]
TOKEN_ROLES: frozenset[str] = frozenset({"user", "admin"})
API_KEY_ROLES: frozenset[str] = frozenset({"service", "admin"})
JWT_ALGORITHM = "HS256"
API_KEY_PREFIX = "bk_"
MAX_USER_ID = 2**63 - 1


def parse_user_id(value: object) -> int:
    """One spelling per user: plain digits, no sign, spaces, underscores or leading zeros."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and value[0] != "0":
        user_id = int(value)
        if user_id <= MAX_USER_ID:
            return user_id
    raise ValueError("a user id is a positive integer written in plain digits")


# Bounds before the validator: after it, OpenAPI would show them as `ge`/`le`, not JSON Schema.
UserId = Annotated[
    int,
    Field(ge=1, le=MAX_USER_ID),
    BeforeValidator(parse_user_id),
    Path(description="Platform user id (digits)"),
]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


ACTIVE_KEY = select(ApiKey.id, ApiKey.role).where(
    ApiKey.key_hash == bindparam("key_hash"),
    ApiKey.revoked_at.is_(None),
    ApiKey.role.in_(API_KEY_ROLES),
)


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    user_id: int | None = None
    api_key_id: int | None = None

    @property
    def scope(self) -> str:
        """A stable name for the caller, used to scope idempotency keys and as the actor."""
        if self.api_key_id is not None:
            return f"key:{self.api_key_id}"
        return f"{self.role}:{self.user_id}"

    def may_access(self, user_id: int, *, service_allowed: bool) -> bool:
        if self.role == "admin":
            return True
        if self.role == "service":
            return service_allowed
        return self.user_id == user_id


def issue_token(settings: Settings, user_id: int, role: Role, ttl: timedelta) -> str:
    if role not in TOKEN_ROLES:
        raise ValueError(f"tokens carry role user or admin, not {role}")
    claims = {"sub": str(user_id), "role": role, "exp": utcnow() + ttl, "iat": utcnow()}
    return jwt.encode(claims, settings.jwt_secret, algorithm=JWT_ALGORITHM)


def decode_token(settings: Settings, token: str) -> tuple[Principal, float]:
    """The token's principal and expiry time, once its signature and claims check out."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub", "role"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("The token has expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("The token is not valid.") from exc
    try:
        user_id = parse_user_id(claims["sub"])
    except ValueError as exc:
        raise Unauthenticated("The token's subject is not a user id.") from exc
    role, expires = claims["role"], float(claims["exp"])
    if role == "admin":
        return Principal(role="admin", user_id=user_id), expires
    if role == "user":
        return Principal(role="user", user_id=user_id), expires
    raise Unauthenticated("The token's role is not recognised.")


class VerifiedTokens:
    """Tokens whose signature was already checked, so a client's repeated token costs a
    lookup rather than an HMAC and a claims parse. Keyed by the exact token text, so a
    hit proves the same signature; the expiry is still checked on every use."""

    def __init__(self, settings: Settings, size: int = 10_000) -> None:
        self.settings = settings
        self.size = size
        self._entries: dict[str, tuple[Principal, float]] = {}

    def principal(self, token: str) -> Principal:
        entry = self._entries.get(token)
        if entry is not None and entry[1] > time.time():
            return entry[0]
        principal, expires = decode_token(self.settings, token)
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[token] = (principal, expires)
        return principal


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_api_key(session: AsyncSession, role: Role, name: str) -> tuple[str, ApiKey]:
    """Store a new key's hash and return the key itself, which is never stored."""
    if role not in API_KEY_ROLES:
        raise ValueError(f"API keys carry role service or admin, not {role}")
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(name=name, role=role, key_hash=hash_api_key(key), created_at=utcnow())
    session.add(record)
    await session.flush()
    return key, record


async def _principal_for_api_key(request: Request, key: str) -> Principal:
    async with get_database(request).autocommit() as connection:
        record = (await connection.execute(ACTIVE_KEY, {"key_hash": hash_api_key(key)})).first()
    if record is None:
        raise Unauthenticated("The API key is not valid.")
    role: Role = "admin" if record.role == "admin" else "service"
    return Principal(role=role, api_key_id=record.id)


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Use 'Authorization: Bearer <token>' or X-API-Key.")
    return token.strip()


async def authenticate(request: Request) -> Principal:
    """The request's principal, resolved once and kept on the request."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    api_key = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization")
    if api_key:
        principal = await _principal_for_api_key(request, api_key)
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


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
SelfServiceOrAdmin = Annotated[Principal, Depends(require_self_service_or_admin)]
SelfOrAdmin = Annotated[Principal, Depends(require_self_or_admin)]
