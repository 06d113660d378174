"""A user whose Stripe customer has a saved card, as a `save_card` top-up or the portal
leaves it: the card auto top-up charges."""

from __future__ import annotations

import stripe

from billing.db.engine import Database
from billing.payments import customers
from tests.support.payments import fresh_user

SETTINGS = "/api/financial/credits/{}/settings"
TERMS = {"enabled": True, "threshold": 500, "amount": 2000, "currency": "usd"}


async def user_with_card(
    database: Database, sandbox: stripe.StripeClient, test_method: str = "pm_card_visa"
) -> tuple[int, str]:
    """A fresh user and its customer, whose default payment method is `test_method`."""
    user = fresh_user()
    customer = sandbox.v1.customers.create({"metadata": {"billing_user_id": str(user)}})
    method = sandbox.v1.payment_methods.attach(test_method, {"customer": customer.id})
    sandbox.v1.customers.update(
        customer.id, {"invoice_settings": {"default_payment_method": method.id}}
    )
    async with database.sessions() as session, session.begin():
        await customers.link(session, user, customer.id)
    return user, customer.id
