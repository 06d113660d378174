"""Stripe Checkout sessions for a catalog price, one-time or subscription.

The session carries the platform user in its `metadata.billing_user_id` (which the
webhook handler trusts; `client_reference_id` is set too, for the Dashboard, but a buyer
can set that one on sessions made elsewhere) and passes it on to the payment intent or
subscription it creates, so every webhook that follows can be tied back to the user. A
one-time session also carries the `billing_credits` it buys, computed here from the
catalog, so the webhook credits exactly what the buyer was shown without asking Stripe
again. (`stripe.metadata`: why the prefix.)
"""

from __future__ import annotations

import stripe
from sqlalchemy.ext.asyncio import AsyncSession
from stripe.params.checkout import SessionCreateParams

from billing.payments.customers import ensure_customer
from billing.payments.pricing import PriceType, sellable_price
from billing.payments.schemas import CheckoutSessionRequest
from billing.stripe.client import stripe_errors
from billing.stripe.metadata import written

PRICE_TYPE: dict[str, PriceType] = {"payment": "one_time", "subscription": "recurring"}


async def create_session(
    session: AsyncSession,
    client: stripe.StripeClient,
    order: CheckoutSessionRequest,
    stripe_key: str,
) -> stripe.checkout.Session:
    """A Checkout session for `order` (its redirect URLs already checked)."""
    price = await sellable_price(session, client, order.price_id, PRICE_TYPE[order.mode])
    customer = await ensure_customer(session, client, order.user_id)
    user = written(order.user_id)
    metadata = user
    if order.mode == "payment":
        metadata = written(order.user_id, credits=str(price.credits(order.quantity) or 0))
    params: SessionCreateParams = {
        "mode": order.mode,
        "customer": customer,
        "client_reference_id": str(order.user_id),
        "metadata": metadata,
        "line_items": [{"price": order.price_id, "quantity": order.quantity}],
        "success_url": order.success_url,
        "cancel_url": order.cancel_url,
    }
    if order.mode == "payment":
        params["payment_intent_data"] = {"metadata": user}
    else:
        params["subscription_data"] = {"metadata": user}
    async with stripe_errors():
        return await client.v1.checkout.sessions.create_async(
            params, {"idempotency_key": stripe_key}
        )
