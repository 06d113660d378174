"""Bearer tokens: HS256 JWTs carrying a user id and a role."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt

from billing.auth.principals import Principal, Role
from billing.core.bounded import bounded_put
from billing.core.config import Settings
from billing.core.errors import Unauthenticated
from billing.core.ids import parse_user_id
from billing.core.times import utcnow

TOKEN_ROLES: frozenset[str] = frozenset({"user", "admin"})

JWT_ALGORITHM = "HS256"


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
        bounded_put(self._entries, token, (principal, expires), self.size)
        return principal


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Use 'Authorization: Bearer <token>' or X-API-Key.")
    return token.strip()
