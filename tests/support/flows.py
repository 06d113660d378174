"""Steps of the end-to-end flows: prices with credits, paying on the hosted page,
customers on a test clock, and reading the service's view."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import stripe

from billing.core.config import Settings
from billing.db.engine import Database
from billing.payments import customers
from tests.e2e.conftest import Live

CARD = {"number": "4242424242424242", "exp_month": "12", "exp_year": "34", "cvc": "123"}
DAY = 86_400


def price(client: stripe.StripeClient, amount: int, credits: int, monthly: bool) -> Any:
    params: dict[str, Any] = {
        "currency": "usd",
        "unit_amount": amount,
        "product_data": {"name": f"Plan {uuid.uuid4().hex[:6]}"},
        "metadata": {"credits": str(credits)},
    }
    if monthly:
        params["recurring"] = {"interval": "month"}
    return client.v1.prices.create(params)


def create_checkout(
    live: Live, user_id: int, price_id: str, mode: str, quantity: int = 1
) -> dict[str, Any]:
    """A checkout session created through the service: `{id, url}`."""
    body = {
        "user_id": user_id,
        "price_id": price_id,
        "quantity": quantity,
        "mode": mode,
        "success_url": "https://app.example.com/done",
        "cancel_url": "https://app.example.com/cancel",
    }
    with live.http() as http:
        reply = http.post(
            "/api/stripe/create-checkout-session", json=body, headers=live.user(user_id)
        )
    assert reply.status_code == 200, reply.text
    session: dict[str, Any] = reply.json()
    return session


def pay(session: dict[str, Any], email: str = "buyer@example.com") -> None:
    """Pay on the sandbox's hosted checkout page, as a customer's browser would."""
    paid = httpx.post(
        f"{session['url']}/confirm",
        json={"email": email, "name": "Buyer", "card": CARD},
        timeout=20,
    ).json()
    assert "redirect" in paid, paid


def checkout(live: Live, user_id: int, price_id: str, mode: str, quantity: int = 1) -> Any:
    """Create a session through the service and pay it; the session as Stripe has it now."""
    session = create_checkout(live, user_id, price_id, mode, quantity)
    pay(session)
    return live.stripe.v1.checkout.sessions.retrieve(session["id"])


def clocked_customer(live: Live, user_id: int, database_url: str) -> tuple[Any, Any]:
    """A customer on a fresh test clock, linked to the user as the service would link it."""
    clock = live.stripe.v1.test_helpers.test_clocks.create({"frozen_time": int(time.time())})
    customer = live.stripe.v1.customers.create(
        {"test_clock": clock.id, "metadata": {"billing_user_id": str(user_id)}}
    )
    link_customer(database_url, user_id, customer.id)
    return clock, customer


def link_customer(database_url: str, user_id: int, customer_id: str) -> None:
    """Record the user's customer in the service's database, as its first payment would."""

    async def link() -> None:
        database = Database(
            Settings(_env_file=None, BILLING_ENV="development", DATABASE_URL=database_url)
        )
        async with database.sessions() as session, session.begin():
            await customers.link(session, user_id, customer_id)
        await database.dispose()

    asyncio.run(link())


def advance(live: Live, clock: Any, days: int) -> Any:
    target = live.stripe.v1.test_helpers.test_clocks.retrieve(clock.id).frozen_time + days * DAY
    return live.stripe.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": target})


def subscriptions(live: Live, user_id: int) -> list[dict[str, Any]]:
    with live.http() as http:
        reply = http.get(f"/api/stripe/subscriptions/{user_id}", headers=live.user(user_id))
    reply.raise_for_status()
    data: list[dict[str, Any]] = reply.json()
    return data


def transactions(live: Live, user_id: int) -> list[dict[str, Any]]:
    with live.http() as http:
        reply = http.get(
            f"/api/financial/credits/{user_id}/transactions",
            params={"limit": 100},
            headers=live.user(user_id),
        )
    reply.raise_for_status()
    items: list[dict[str, Any]] = reply.json()["data"]
    return items
