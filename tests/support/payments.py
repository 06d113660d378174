"""Shared pieces of the payment route tests: catalog prices and cards in the sandbox,
fresh users, and listing what the sandbox holds for a customer."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import httpx
import stripe

STRIPE = "/api/stripe"
CARD = {"number": "4242424242424242", "exp_month": "12", "exp_year": "34", "cvc": "123"}
CARD_3DS = "4000002760003184"
CARD_DECLINED = "4000000000000002"


def fresh_user() -> int:
    """A user id no other test (or backend run) used: the sandbox outlives each test, and
    customers are keyed by user id."""
    return secrets.randbelow(10**12) + 10**6


def new_key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def one_time_price(
    client: stripe.StripeClient, amount: int = 500, credits: int | None = 500, **extra: Any
) -> Any:
    metadata = {"credits": str(credits)} if credits is not None else {}
    return client.v1.prices.create(
        params={
            "currency": "usd",
            "unit_amount": amount,
            "metadata": metadata,
            "product_data": {"name": f"Top-up {amount}"},
            **extra,
        }
    )


def recurring_price(client: stripe.StripeClient, amount: int = 1000, credits: int = 1000) -> Any:
    return one_time_price(client, amount, credits, recurring={"interval": "month"})


def card(client: stripe.StripeClient, number: str) -> str:
    """A payment method for a test card number, as Stripe.js would create it."""
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {**CARD, "number": number, "exp_year": 2034}}
    )
    return str(method.id)


def assert_customer_of(client: stripe.StripeClient, customer_id: str, user_id: int) -> None:
    """The customer is the user's: the service wrote the user id into its metadata."""
    customer = client.v1.customers.retrieve(customer_id)
    assert customer.metadata.to_dict() == {"billing_user_id": str(user_id)}


def intents_of(client: stripe.StripeClient, customer_id: str) -> list[Any]:
    listed = client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
    return [intent for intent in listed if intent.customer == customer_id]


def subscriptions_of(client: stripe.StripeClient, customer_id: str) -> list[Any]:
    params = {"customer": customer_id, "status": "all", "limit": 100}
    return list(client.v1.subscriptions.list(params=params).auto_paging_iter())


async def post(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    return await http.post(f"{STRIPE}/{path}", json=body, headers=headers)


async def browse(url: str, json: dict[str, Any] | None = None) -> httpx.Response:
    """What a browser does with a Stripe-hosted page: GET it, or POST its form."""
    async with httpx.AsyncClient(timeout=10, follow_redirects=True) as browser:
        if json is None:
            return await browser.get(url)
        return await browser.post(url, json=json)
