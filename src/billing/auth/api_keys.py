"""API keys for server-to-server callers.

Shown once at creation; only their SHA-256 is stored, which is enough for keys with
256 bits of entropy.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from billing.auth.models import ApiKey
from billing.auth.principals import Principal, Role
from billing.core.errors import Unauthenticated
from billing.core.ids import API_KEY_PREFIX
from billing.core.times import utcnow
from billing.db.engine import get_database

API_KEY_ROLES: frozenset[str] = frozenset({"service", "admin"})

ACTIVE_KEY = select(ApiKey.id, ApiKey.role).where(
    ApiKey.key_hash == bindparam("key_hash"),
    ApiKey.revoked_at.is_(None),
    ApiKey.role.in_(API_KEY_ROLES),
)


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
