"""Rate limits: per caller on the API, per source address on the webhook route.

Checked in an ASGI middleware before routing, so a refused request costs a counter
update and nothing else: no body read, no database, no Stripe. The caller is known
without the database: a bearer token's principal (signature checked, then cached), a
digest of an API key (one bucket per key, as its id would give), else the client
address. Windows are fixed (`FixedWindowRateLimiter`): one atomic increment per window
and caller, kept in memory, or in Redis when `REDIS_URL` is set so that every process
shares them. If Redis fails, requests go through unchecked (logged and counted) for a
few seconds before it is tried again: the limiter must never take payments down.
"""

from __future__ import annotations

import math
import time

import structlog
from limits import RateLimitItem
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from prometheus_client import Counter
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from billing.auth.api_keys import KnownKeys
from billing.auth.tokens import VerifiedTokens, bearer_token
from billing.core.config import ConfigurationError, Settings, parse_rate_limits
from billing.core.errors import RateLimited, Unauthenticated
from billing.http.middleware import route_path
from billing.http.problems import problem_response

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
WEBHOOK_PATH = "/api/stripe/webhook"
STORAGE_RETRY_SECONDS = 5.0  # after a storage failure, requests go unchecked this long
REDIS_TIMEOUT_SECONDS = 0.5  # a stalled Redis delays a request at most this much
SWEEP_SECONDS = 60.0
# REDIS_URL's scheme -> limits' name for the same with the asyncio client
REDIS_SCHEMES = {
    "redis://": "async+redis://",
    "rediss://": "async+rediss://",
    "unix://": "async+redis+unix://",
}

RATE_LIMITED = Counter("billing_rate_limited_total", "Requests refused by a rate limit", ["limit"])
RATE_LIMIT_UNCHECKED = Counter(
    "billing_rate_limit_unchecked_total",
    "Requests let through unchecked because the rate-limit storage failed",
)
logger = structlog.get_logger(__name__)


class MemoryCounters(Storage):
    """Fixed-window counters in this process. limits' own MemoryStorage starts a sweep of
    every key after each hit (milliseconds a request with many callers); here a
    window past its expiry restarts when next hit and stale ones are swept at most once a
    minute. No await inside an operation, so each is atomic on the event loop."""

    def __init__(self) -> None:
        super().__init__()
        self._windows: dict[str, tuple[int, float]] = {}  # key -> (count, expires at)
        self._next_sweep = time.time() + SWEEP_SECONDS

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError  # as limits' MemoryStorage: nothing here fails otherwise

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        count, expires = self._windows.get(key, (0, 0.0))
        if expires <= now:
            count, expires = 0, now + expiry
        self._windows[key] = (count + amount, expires)
        if now >= self._next_sweep:
            self._sweep(now)
        return count + amount

    async def get(self, key: str) -> int:
        count, expires = self._windows.get(key, (0, 0.0))
        return count if expires > time.time() else 0

    async def get_expiry(self, key: str) -> float:
        now = time.time()
        return max(self._windows.get(key, (0, now))[1], now)

    async def check(self) -> bool:
        return True

    async def reset(self) -> int:
        count = len(self._windows)
        self._windows.clear()
        return count

    async def clear(self, key: str) -> None:
        self._windows.pop(key, None)

    def _sweep(self, now: float) -> None:
        self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        self._next_sweep = now + SWEEP_SECONDS


def create_storage(settings: Settings) -> Storage:
    """Redis when `REDIS_URL` is set (shared by every process), else this process's memory."""
    url = settings.REDIS_URL
    if not url:
        return MemoryCounters()
    scheme = next((s for s in REDIS_SCHEMES if url.startswith(s)), None)
    if scheme is None:
        raise ConfigurationError("REDIS_URL must start with redis://, rediss:// or unix://")
    return RedisStorage(
        REDIS_SCHEMES[scheme] + url.removeprefix(scheme),
        implementation="redispy",
        key_prefix=settings.BILLING_RATE_LIMIT_KEY_PREFIX,
        wrap_exceptions=True,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )


class RateLimiter:
    """Named limits ("api", "webhook"), each one or more windows, counted per caller."""

    def __init__(self, storage: Storage, limits: dict[str, list[RateLimitItem]]) -> None:
        self.strategy = FixedWindowRateLimiter(storage)
        self.limits = limits
        self._unchecked_until = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        limits = {
            "api": parse_rate_limits(settings.BILLING_RATE_LIMIT),
            "webhook": parse_rate_limits(settings.BILLING_WEBHOOK_RATE_LIMIT),
        }
        return cls(create_storage(settings), limits)

    async def retry_after(self, limit: str, caller: str) -> int | None:
        """Count one request; None while `caller` is within `limit`, else the seconds
        until it may retry. A failing storage lets requests through."""
        if time.monotonic() < self._unchecked_until:
            RATE_LIMIT_UNCHECKED.inc()
            return None
        try:
            return await self._hit(limit, caller)
        except StorageError as exc:
            self._unchecked_until = time.monotonic() + STORAGE_RETRY_SECONDS
            RATE_LIMIT_UNCHECKED.inc()
            logger.warning(
                "rate_limit_storage_unavailable",
                error=type(exc.storage_error).__name__,
                unchecked_seconds=STORAGE_RETRY_SECONDS,
            )
            return None

    async def _hit(self, limit: str, caller: str) -> int | None:
        for item in self.limits[limit]:
            if not await self.strategy.hit(item, limit, caller):
                RATE_LIMITED.labels(limit).inc()
                stats = await self.strategy.get_window_stats(item, limit, caller)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None


def caller_identity(headers: Headers, tokens: VerifiedTokens, keys: KnownKeys) -> str | None:
    """Who the credentials name, worked out without the database; None if nobody (no
    credentials, a token that does not verify, an API key not verified yet): then the
    request counts against its address. A made-up key gets no bucket of its own."""
    api_key = headers.get("x-api-key")
    if api_key:
        return keys.identity(api_key)
    authorization = headers.get("authorization")
    if authorization:
        try:
            return tokens.principal(bearer_token(authorization)).scope
        except Unauthenticated:
            return None
    return None


class RateLimit:
    """429 `rate_limited` with `Retry-After` once a caller is over its limit. Health
    and metrics routes are never limited, so operators can always see in."""

    def __init__(
        self, app: ASGIApp, limiter: RateLimiter, tokens: VerifiedTokens, keys: KnownKeys
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.tokens = tokens
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and route_path(scope) not in EXEMPT_PATHS:
            limit, caller = self._bucket(scope)
            retry_after = await self.limiter.retry_after(limit, caller)
            if retry_after is not None:
                response = problem_response(RateLimited(retry_after), instance=scope["path"])
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _bucket(self, scope: Scope) -> tuple[str, str]:
        client = scope.get("client")
        address = "ip:" + (client[0] if client else "unknown")
        if route_path(scope) == WEBHOOK_PATH:
            return "webhook", address
        return "api", caller_identity(Headers(scope=scope), self.tokens, self.keys) or address
