"""Payment-form top-ups: a PaymentIntent whose credits the server decides.

`amount` is an integer in the currency's minor unit as Stripe counts it: cents for
usd, eur and every other accepted currency (a hundredth of the main unit).
`BILLING_TOPUP_MIN`/`MAX` bound it and `BILLING_CREDITS_PER_UNIT` prices credits
in those same units whatever the currency, which is fair only where a minor unit
is a hundredth of the main one. So only such two-decimal currencies are accepted:
Stripe's zero-decimal currencies (jpy, krw, ...: there the "minor unit" is the main
unit, worth 100 times more), three-decimal ones (bhd, jod, kwd, omr, tnd) and the
special cases (huf, isk, twd, ugx) are refused with `unsupported_currency`. Stripe's
own minimum charge per currency still applies (a smaller amount is its
`amount_too_small`, a 502 `stripe_error`).
"""

from __future__ import annotations

from dataclasses import dataclass

import stripe
from sqlalchemy.ext.asyncio import AsyncSession
from stripe.params import PaymentIntentCreateParams

from billing.config import Settings
from billing.payments.customers import ensure_customer
from billing.payments.errors import AmountOutOfRange, UnsupportedCurrency
from billing.payments.schemas import PaymentIntentRequest
from billing.stripe_api import stripe_errors

TOPUP_CURRENCIES = frozenset(
    {
        *("aed", "aud", "bgn", "brl", "cad", "chf", "czk", "dkk", "eur", "gbp", "hkd", "ils"),
        *("inr", "mxn", "myr", "nok", "nzd", "php", "pln", "ron", "sek", "sgd", "thb", "usd"),
        "zar",
    }
)


@dataclass(frozen=True, slots=True)
class Topup:
    intent: stripe.PaymentIntent
    credits: int


def topup_credits(settings: Settings, amount: int, currency: str) -> int:
    """Credits an `amount` (minor units) of `currency` buys; 422 if it may not be bought."""
    if currency not in TOPUP_CURRENCIES:
        raise UnsupportedCurrency(
            "Top-ups take a lowercase ISO 4217 code of a two-decimal currency: "
            + ", ".join(sorted(TOPUP_CURRENCIES))
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
        "metadata": {"user_id": str(order.user_id), "purpose": "topup", "credits": str(credits)},
    }
    if order.description:
        params["description"] = order.description
    async with stripe_errors():
        intent = await client.v1.payment_intents.create_async(
            params, {"idempotency_key": stripe_key}
        )
    return Topup(intent, credits)
