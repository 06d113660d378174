"""The one way the service talks to Stripe: the official SDK's async client.

Offline the same client talks to the Stripe sandbox; only `STRIPE_API_BASE` and
the keys differ. Every call that creates something carries an idempotency key
derived from something stable (the caller's own key, a user id), so a retry
never creates twice. Stripe's errors become ours: a decline is 402
`card_declined`, anything else 502 `stripe_error`, always with Stripe's code.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

import stripe
import structlog
from starlette.requests import Request

from billing.core.config import Settings
from billing.core.errors import CardDeclined, ServiceUnavailable, StripeProblem

TIMEOUT_SECONDS = 20
NETWORK_RETRIES = 2  # safe: every create carries an idempotency key
logger = structlog.get_logger(__name__)


def create_client(
    settings: Settings, *, timeout: float = TIMEOUT_SECONDS, retries: int = NETWORK_RETRIES
) -> stripe.StripeClient | None:
    """The SDK client for these settings; None when no secret key is configured. `timeout`
    (seconds per request) and `retries` bound how long one call may take: callers that
    hold a database lock meanwhile ask for less (see `HandlerContext`)."""
    if settings.STRIPE_SECRET_KEY is None:
        return None
    base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY.get_secret_value(),
        stripe_version=settings.STRIPE_API_VERSION,
        base_addresses=base,  # type: ignore[arg-type]
        max_network_retries=retries,
        http_client=stripe.HTTPXClient(timeout=timeout),
    )


def require_client(client: stripe.StripeClient | None) -> stripe.StripeClient:
    if client is None:
        raise ServiceUnavailable("Stripe is not configured: set STRIPE_SECRET_KEY.")
    return client


def get_stripe(request: Request) -> stripe.StripeClient:
    """The application's Stripe client (FastAPI dependency)."""
    return require_client(request.app.state.stripe)


def derive_key(*parts: str) -> str:
    """A Stripe idempotency key from stable parts; hashed, so no caller data leaks to Stripe."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"billing-{digest[:48]}"


def request_key(operation: str, scope: str, client_key: str | None) -> str:
    """The Stripe key for a create on behalf of an API request: the caller's
    Idempotency-Key makes its retries safe; without one each request is new."""
    return derive_key(operation, scope, client_key or uuid.uuid4().hex)


@asynccontextmanager
async def stripe_errors() -> AsyncIterator[None]:
    """Turn Stripe's exceptions raised in the block into problems for our caller."""
    try:
        yield
    except stripe.CardError as exc:
        decline = exc.error.decline_code if exc.error else None
        raise CardDeclined(exc.user_message or "The card was declined.", decline) from exc
    except stripe.StripeError as exc:
        logger.warning("stripe_error", error=type(exc).__name__, code=exc.code)
        message = exc.user_message or "Stripe could not complete the request."
        raise StripeProblem(message, exc.code) from exc


async def retrieve_or_none(call: Awaitable[Any]) -> dict[str, Any] | None:
    """A Stripe object as a plain dict; None when Stripe says it does not exist."""
    async with stripe_errors():
        try:
            found = await call
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":
                return None
            raise
    result: dict[str, Any] = found.to_dict(for_json=True)
    return result
