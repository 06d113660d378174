"""What the browser needs from Stripe: the customer portal link and Stripe.js settings."""

from __future__ import annotations

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.config import Settings
from billing.payments.customers import ensure_customer
from billing.payments.schemas import StripeConfig
from billing.stripe.client import require_client, stripe_errors

STRIPE_JS_URL = "https://js.stripe.com/v3/"


async def portal_url(
    session: AsyncSession,
    client: stripe.StripeClient | None,
    settings: Settings,
    user_id: int,
    return_url: str,
    stripe_key: str,
) -> str:
    """The configured no-code portal link, else a portal session for the user's customer
    that returns to `return_url` (already checked against the allowed hosts), created
    under `stripe_key`, so a retry with the same key gets the same session."""
    if settings.STRIPE_CUSTOMER_PORTAL_URL:
        return settings.STRIPE_CUSTOMER_PORTAL_URL
    client = require_client(client)
    customer = await ensure_customer(session, client, user_id)
    async with stripe_errors():
        portal = await client.v1.billing_portal.sessions.create_async(
            {"customer": customer, "return_url": return_url}, {"idempotency_key": stripe_key}
        )
    return portal.url


def frontend_config(settings: Settings) -> StripeConfig:
    """Keys and URLs for the frontend. Offline the sandbox serves Stripe.js itself, at
    `<STRIPE_API_BASE>/js.stripe.com/v3/`."""
    base = settings.STRIPE_API_BASE
    return StripeConfig(
        publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
        portal_url=settings.STRIPE_CUSTOMER_PORTAL_URL,
        stripe_js_url=f"{base.rstrip('/')}/js.stripe.com/v3/" if base else STRIPE_JS_URL,
    )
