"""The card auto top-up charges: the Stripe customer's default payment method, saved by a
payment-form top-up with `save_card: true` or in the portal. Stripe keeps it; the
service asks Stripe each time, so a card changed in the portal is the one charged."""

from __future__ import annotations

from dataclasses import dataclass

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments.customers import customer_id_for
from billing.payments.errors import PaymentMethodRequired
from billing.stripe.client import stripe_errors
from billing.stripe.readers import object_id


@dataclass(frozen=True, slots=True)
class SavedCard:
    customer: str
    payment_method: str


async def saved_card(session: AsyncSession, client: stripe.StripeClient, user_id: int) -> SavedCard:
    """The user's saved card; 422 `payment_method_required` when there is none."""
    async with session.begin():
        customer = await customer_id_for(session, user_id)
    method = None
    if customer is not None:
        async with stripe_errors():
            found = await client.v1.customers.retrieve_async(customer)
        chosen = found.invoice_settings.default_payment_method if found.invoice_settings else None
        method = object_id(chosen) if not isinstance(chosen, stripe.PaymentMethod) else chosen.id
    if customer is None or method is None:
        raise PaymentMethodRequired(
            "Auto top-up charges a saved card: make a top-up with save_card: true, or save"
            " a card in the customer portal."
        )
    return SavedCard(customer, method)


async def keep_as_default(client: stripe.StripeClient, customer: str, payment_method: str) -> None:
    """Make a card just saved (`setup_future_usage`) the customer's default."""
    async with stripe_errors():
        await client.v1.customers.update_async(
            customer, {"invoice_settings": {"default_payment_method": payment_method}}
        )
