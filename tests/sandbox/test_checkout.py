"""Checkout Sessions: the API, and completion through the hosted page's own calls."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import stripe

from tests.support.sandbox import assert_shape, customer_with_card, event_types, recurring_price
from tests.support.sandbox_process import Sandbox

CARD_4242 = {"number": "4242424242424242", "exp_month": "12", "exp_year": "34", "cvc": "123"}


def _one_time(client: stripe.StripeClient, amount: int = 2500) -> Any:
    return client.v1.prices.create(
        params={"currency": "usd", "unit_amount": amount, "product_data": {"name": "Credits"}}
    )


def _session(client: stripe.StripeClient, **params: Any) -> Any:
    return client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": _one_time(client).id, "quantity": 2}],
            "success_url": "https://app.example/done?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://app.example/cancel",
            **params,
        }
    )


def _submit(sandbox: Sandbox, session: Any, number: str, path: str = "confirm") -> Any:
    card = {**CARD_4242, "number": number}
    body = {"email": "buyer@example.com", "name": "Buyer", "card": card}
    return httpx.post(f"{session.url}/{path}", json=body, timeout=10).json()


def test_session_fields_listing_line_items_and_expire(client: stripe.StripeClient) -> None:
    session = _session(
        client,
        client_reference_id="user-7",
        customer_email="buyer@example.com",
        metadata={"billing_user_id": "7"},
        payment_intent_data={"metadata": {"billing_purpose": "topup"}},
    )
    assert session.status == "open"
    assert session.payment_status == "unpaid"
    assert session.amount_total == 5000
    assert session.url.endswith(f"/c/pay/{session.id}")
    assert "{CHECKOUT_SESSION_ID}" in session.success_url
    assert_shape(session)
    again = client.v1.checkout.sessions.retrieve(session.id)
    assert again.client_reference_id == "user-7"
    assert again.metadata.to_dict() == {"billing_user_id": "7"}
    items = client.v1.checkout.sessions.line_items.list(
        session.id, params={"expand": ["data.price.product"]}
    )
    assert items.data[0].quantity == 2
    assert items.data[0].price.product.name == "Credits"
    assert_shape(items.data[0])
    listed = client.v1.checkout.sessions.list(params={"status": "open", "limit": 100})
    assert session.id in [s.id for s in listed.data]
    expired = client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired"
    assert "checkout.session.expired" in event_types(client, session.id)


def test_payment_mode_completes_through_the_page(
    sandbox: Sandbox, client: stripe.StripeClient
) -> None:
    customer = customer_with_card(client, card=None, email="buyer@example.com")
    session = _session(
        client, customer=customer.id, payment_intent_data={"metadata": {"billing_purpose": "topup"}}
    )
    assert httpx.get(session.url).status_code == 200
    outcome = _submit(sandbox, session, "4242424242424242")
    assert outcome["redirect"] == f"https://app.example/done?session={session.id}"
    done = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    assert done.status == "complete"
    assert done.payment_status == "paid"
    assert done.payment_intent.status == "succeeded"
    assert done.payment_intent.metadata["billing_purpose"] == "topup"
    assert done.customer_details.email == "buyer@example.com"
    assert event_types(client, session.id) == ["checkout.session.completed"]
    assert "payment_intent.succeeded" in event_types(client, done.payment_intent.id)


def test_a_declined_card_shows_the_error_and_can_be_retried(
    sandbox: Sandbox, client: stripe.StripeClient
) -> None:
    session = _session(client)
    declined = _submit(sandbox, session, "4000000000000002")
    assert declined["error"]["message"] == "Your card was declined."
    assert declined["error"]["decline_code"] == "generic_decline"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert "redirect" in _submit(sandbox, session, "4242424242424242")
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert client.v1.payment_intents.retrieve(paid.payment_intent).status == "succeeded"


def test_subscription_mode_creates_a_subscription_with_metadata(
    sandbox: Sandbox, client: stripe.StripeClient
) -> None:
    price = recurring_price(client, 1200)
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "https://app.example/done",
            "customer_email": "sub@example.com",
            "subscription_data": {"metadata": {"billing_user_id": "9"}},
        }
    )
    assert session.customer is None
    assert "redirect" in _submit(sandbox, session, "4242424242424242")
    done = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["subscription", "invoice"]}
    )
    assert done.subscription.status == "active"
    assert done.subscription.metadata["billing_user_id"] == "9"
    assert done.subscription.default_payment_method is not None
    assert done.invoice.billing_reason == "subscription_create"
    assert done.invoice.status == "paid"
    assert done.customer == done.subscription.customer
    assert "customer.subscription.created" in event_types(client, done.subscription.id)
    assert "invoice.paid" in event_types(client, done.invoice.id)


def test_a_declined_subscription_checkout_creates_nothing(
    sandbox: Sandbox, client: stripe.StripeClient
) -> None:
    customer = customer_with_card(client, card=None)
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer.id,
            "line_items": [{"price": recurring_price(client).id}],
            "success_url": "https://app.example/done",
        }
    )
    outcome = _submit(sandbox, session, "4000000000009995")
    assert outcome["error"]["decline_code"] == "insufficient_funds"
    subs = client.v1.subscriptions.list(params={"customer": customer.id, "status": "all"})
    assert subs.data == []


@pytest.mark.parametrize(("success", "status"), [(True, "complete"), (False, "open")])
def test_3d_secure_on_the_page(
    sandbox: Sandbox, client: stripe.StripeClient, success: bool, status: str
) -> None:
    session = _session(client)
    assert _submit(sandbox, session, "4000002500003155") == {"requires_action": True}
    answer = httpx.post(f"{session.url}/authenticate", json={"success": success}).json()
    assert ("redirect" in answer) is success
    assert client.v1.checkout.sessions.retrieve(session.id).status == status


def test_payment_mode_refuses_recurring_prices(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [{"price": recurring_price(client).id}],
                "success_url": "https://app.example/done",
            }
        )


def test_expires_at_must_be_30_minutes_to_24_hours_away(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        _session(client, expires_at=int(time.time()) + 60)
    later = int(time.time()) + 3600
    assert _session(client, expires_at=later).expires_at == later
