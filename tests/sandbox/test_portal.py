"""Billing portal sessions: the page cancels/resumes at period end and changes the card."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from tests.support.sandbox import assert_shape, customer_with_card, recurring_price


@pytest.fixture
def portal(client: stripe.StripeClient) -> tuple[Any, Any]:
    customer = customer_with_card(client)
    sub = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": recurring_price(client).id}]}
    )
    session = client.v1.billing_portal.sessions.create(
        params={"customer": customer.id, "return_url": "https://app.example/account"}
    )
    return session, sub


def _page(url: str) -> httpx.Response:
    """The page at `url` itself, as Stripe serves it: no redirect on the way."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.status_code
    return response


def test_session_and_page_list_subscriptions(portal: tuple[Any, Any]) -> None:
    session, sub = portal
    assert_shape(session)
    assert session.return_url == "https://app.example/account"
    html = _page(session.url).text
    assert f"data-id={sub.id}" in html
    assert "href='https://app.example/account'" in html


def test_cancel_then_resume_emit_updates(
    client: stripe.StripeClient, portal: tuple[Any, Any]
) -> None:
    session, sub = portal
    base = session.url
    httpx.post(f"{base}/subscriptions/{sub.id}/cancel", timeout=10)
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end
    assert "Renew subscription" in _page(session.url).text
    httpx.post(f"{base}/subscriptions/{sub.id}/resume", timeout=10)
    assert not client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end
    updates = [
        e
        for e in client.v1.events.list(params={"type": "customer.subscription.updated"}).data
        if e.data.object.id == sub.id
    ]
    assert [e.data.previous_attributes.cancel_at_period_end for e in updates] == [True, False]


def test_change_card(client: stripe.StripeClient, portal: tuple[Any, Any]) -> None:
    session, sub = portal
    base = session.url
    form = {"cardNumber": "5555 5555 5555 4444", "cardExpiry": "12 / 34", "cardCvc": "123"}
    reply = httpx.post(f"{base}/payment_method", data=form, follow_redirects=True, timeout=10)
    assert "Card ending 4444" in reply.text
    customer = client.v1.customers.retrieve(session.customer)
    method = client.v1.payment_methods.retrieve(customer.invoice_settings.default_payment_method)
    assert method.card.brand == "mastercard"
    assert client.v1.subscriptions.retrieve(sub.id).default_payment_method == method.id
    bad = httpx.post(
        f"{base}/payment_method", data={**form, "cardNumber": "4242424242424241"}, timeout=10
    )
    assert "Your card number is incorrect." in bad.text
