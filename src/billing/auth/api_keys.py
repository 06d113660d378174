"""API keys for server-to-server callers.

Shown once at creation; only their SHA-256 is stored, which is enough for keys with
256 bits of entropy.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from functools import partial

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from billing.auth.models import ApiKey
from billing.auth.principals import Principal, Role
from billing.core.bounded import bounded_put
from billing.core.errors import Unauthenticated
from billing.core.ids import API_KEY_PREFIX
from billing.core.times import utcnow
from billing.db.engine import Database, get_database

API_KEY_ROLES: frozenset[str] = frozenset({"service", "admin"})
FAILED_KEY_SECONDS = 60.0  # how long a key that failed is refused from memory
# How long a key that verified is trusted without asking the database again: the longest a
# revoked key (revocation is a database write, seen by every process) still works anywhere.
VERIFIED_KEY_SECONDS = 1.0

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


class KnownKeys:
    """What this process learnt of API keys, by a digest (never the key itself): the
    principal of each key that verified, trusted for `VERIFIED_KEY_SECONDS` (a platform's
    backend sends one key thousands of times a second: it costs one lookup a second), its
    rate-limit identity, and the keys that failed lately.

    A key the database has not vouched for is no caller of its own: it counts against
    its client's address (`billing.http.rate_limits`), and one that failed is refused
    from memory for `FAILED_KEY_SECONDS`, so a flood of made-up keys can neither dodge the
    per-client limit nor hold the pool's connections with lookups. Both maps are bounded
    (`core.bounded`): a verified key's entry keeps its identity after its trust has run
    out. A key is looked up once at a time (`ask_once`)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._verified: dict[str, tuple[Principal, float]] = {}  # -> (principal, trusted until)
        self._failed_until: dict[str, float] = {}
        self._asking: dict[str, asyncio.Future[Principal | None]] = {}

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()

    def identity(self, key: str) -> str | None:
        """The caller a key that verified names (`key:<id>`); None for any other key."""
        entry = self._verified.get(self._digest(key))
        return entry[0].scope if entry is not None else None

    def trusted(self, key: str) -> Principal | None:
        """The principal of a key that verified less than `VERIFIED_KEY_SECONDS` ago."""
        entry = self._verified.get(self._digest(key))
        return entry[0] if entry is not None and entry[1] > time.monotonic() else None

    def failed_lately(self, key: str) -> bool:
        until = self._failed_until.get(self._digest(key))
        return until is not None and until > time.monotonic()

    def verified(self, key: str, principal: Principal) -> None:
        digest = self._digest(key)
        self._failed_until.pop(digest, None)
        until = time.monotonic() + VERIFIED_KEY_SECONDS
        bounded_put(self._verified, digest, (principal, until), self.size)

    def failed(self, key: str) -> None:
        until = time.monotonic() + FAILED_KEY_SECONDS
        bounded_put(self._failed_until, self._digest(key), until, self.size)

    async def ask_once(
        self, key: str, ask: Callable[[], Awaitable[Principal | None]]
    ) -> Principal | None:
        """`ask()`'s answer, one lookup for every request that needs the key meanwhile:
        when a key's trust runs out, each of a backend's requests in flight would look it
        up, all waiting for the pool's connections at once. A request that goes away
        leaves the lookup to the others."""
        digest = self._digest(key)
        asking = self._asking.get(digest)
        if asking is None:
            asking = self._asking[digest] = asyncio.ensure_future(ask())
            asking.add_done_callback(partial(self._asked, digest))
        return await asyncio.shield(asking)

    def _asked(self, digest: str, asking: asyncio.Future[Principal | None]) -> None:
        del self._asking[digest]
        if not asking.cancelled():
            asking.exception()  # retrieved here too: every waiter may have gone


async def principal_for_api_key(request: Request, key: str) -> Principal:
    """The key's principal, checked against the database at most once a
    `VERIFIED_KEY_SECONDS` per process (a revoked key stops within it everywhere); a key
    that failed lately is refused without a lookup."""
    known: KnownKeys = request.app.state.known_keys
    trusted = known.trusted(key)
    if trusted is not None:
        return trusted
    if not known.failed_lately(key):
        ask = partial(_look_up, get_database(request), known, key)
        if (principal := await known.ask_once(key, ask)) is not None:
            return principal
    raise Unauthenticated("The API key is not valid.")


async def _look_up(database: Database, known: KnownKeys, key: str) -> Principal | None:
    """The key's principal as the database has it (None: no such active key), noted."""
    async with database.autocommit() as connection:
        record = (await connection.execute(ACTIVE_KEY, {"key_hash": hash_api_key(key)})).first()
    if record is None:
        known.failed(key)
        return None
    role: Role = "admin" if record.role == "admin" else "service"
    principal = Principal(role=role, api_key_id=record.id)
    known.verified(key, principal)
    return principal
