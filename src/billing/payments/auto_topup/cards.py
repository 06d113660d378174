"""The card auto top-up charges: the Stripe customer's default payment method, saved by a
payment-form top-up with `save_card: true` or in the portal. Stripe keeps it; the
service asks Stripe each time, so a card changed in the portal is the one charged."""

from __future__ import annotations

from dataclasses import dataclass

import stripe
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments.customers import customer_id_for
from billing.payments.errors import PaymentMethodRequired
from billing.stripe.client import retrieve_or_none
from billing.stripe.readers import object_id

logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SavedCard:
    customer: str
    payment_method: str


async def saved_card(session: AsyncSession, client: stripe.StripeClient, user_id: int) -> SavedCard:
    """The user's saved card; 422 `payment_method_required` when there is none."""
    async with session.begin():
        customer = await customer_id_for(session, user_id)
    found = None
    if customer is not None:
        found = await retrieve_or_none(client.v1.customers.retrieve_async(customer))
    method = None
    if found is not None and not found.get("deleted"):  # a deleted customer: `deleted: true`
        method = object_id((found.get("invoice_settings") or {}).get("default_payment_method"))
    if customer is None or method is None:
        raise PaymentMethodRequired(
            "Auto top-up charges a saved card: make a top-up with save_card: true, or save"
            " a card in the customer portal."
        )
    return SavedCard(customer, method)


async def keep_as_default(client: stripe.StripeClient, customer: str, payment_method: str) -> None:
    """Make a card just saved (`setup_future_usage`) the customer's default. Best effort:
    the payment it paid is credited whatever Stripe answers here (a card detached since,
    a customer deleted); the user can still save one in the portal."""
    try:
        await client.v1.customers.update_async(
            customer, {"invoice_settings": {"default_payment_method": payment_method}}
        )
    except stripe.StripeError as exc:
        logger.warning("default_card_not_kept", customer=customer, error=type(exc).__name__)
