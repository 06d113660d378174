"""Payment-form top-ups: a PaymentIntent whose credits the server decides.

`amount` is an integer in the currency's minor unit as Stripe counts it (cents for usd).
`BILLING_TOPUP_MIN`/`MAX` bound it and `BILLING_CREDITS_PER_UNIT` prices credits in those
same units whatever the currency, so one rupee-cent would buy as many credits as one
dollar-cent. Hence only the currencies in `BILLING_TOPUP_CURRENCIES` (default usd; each a
two-decimal currency, checked when the settings load) are taken; any other is refused
with `unsupported_currency`. Stripe's own minimum charge per currency still applies (a
smaller amount is its `amount_too_small`, a 502 `stripe_error`).
"""

from __future__ import annotations

from dataclasses import dataclass

import stripe
from sqlalchemy.ext.asyncio import AsyncSession
from stripe.params import PaymentIntentCreateParams

from billing.core.config import Settings
from billing.payments.customers import ensure_customer
from billing.payments.errors import AmountOutOfRange, UnsupportedCurrency
from billing.payments.schemas import PaymentIntentRequest
from billing.stripe.client import stripe_errors
from billing.stripe.metadata import TOPUP, written


@dataclass(frozen=True, slots=True)
class Topup:
    intent: stripe.PaymentIntent
    credits: int


def topup_credits(settings: Settings, amount: int, currency: str) -> int:
    """Credits an `amount` (minor units) of `currency` buys; 422 if it may not be bought."""
    if currency not in settings.topup_currencies:
        raise UnsupportedCurrency(
            "Top-ups take one of these lowercase ISO 4217 codes (BILLING_TOPUP_CURRENCIES): "
            + ", ".join(sorted(settings.topup_currencies))
            + "."
        )
    if not settings.BILLING_TOPUP_MIN <= amount <= settings.BILLING_TOPUP_MAX:
        raise AmountOutOfRange(
            f"amount must be from {settings.BILLING_TOPUP_MIN} to {settings.BILLING_TOPUP_MAX}"
            " minor units."
        )
    return amount * settings.BILLING_CREDITS_PER_UNIT


async def create_topup(
    session: AsyncSession,
    client: stripe.StripeClient,
    settings: Settings,
    order: PaymentIntentRequest,
    stripe_key: str,
) -> Topup:
    """A PaymentIntent for the user's customer. The credits ride in its metadata,
    set here, so the `payment_intent.succeeded` handler never trusts the client."""
    credits = topup_credits(settings, order.amount, order.currency)
    customer = await ensure_customer(session, client, order.user_id)
    params: PaymentIntentCreateParams = {
        "amount": order.amount,
        "currency": order.currency,
        "customer": customer,
        "metadata": written(order.user_id, purpose=TOPUP, credits=str(credits)),
    }
    if order.description:
        params["description"] = order.description
    if order.save_card:
        params["setup_future_usage"] = "off_session"
    async with stripe_errors():
        intent = await client.v1.payment_intents.create_async(
            params, {"idempotency_key": stripe_key}
        )
    return Topup(intent, credits)
