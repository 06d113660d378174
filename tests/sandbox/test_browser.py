"""The hosted Checkout page in a real browser (Debian's Chromium via Playwright)."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from playwright.sync_api import Browser, Page

from tests.support.browser import NEEDS_CHROMIUM

pytestmark = NEEDS_CHROMIUM


def _session(client: stripe.StripeClient) -> Any:
    price = client.v1.prices.create(
        params={"currency": "usd", "unit_amount": 1999, "product_data": {"name": "Pack"}}
    )
    return client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "http://127.0.0.1:9/done?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://127.0.0.1:9/cancel",
        }
    )


def _pay(page: Page, url: str, number: str) -> None:
    page.goto(url)
    page.fill("#email", "browser@example.com")
    page.fill("#cardNumber", number)
    page.fill("#cardExpiry", "12 / 34")
    page.fill("#cardCvc", "123")
    page.fill("#billingName", "Browser Buyer")
    page.click("button[type=submit]")


def test_paying_with_4242_redirects_and_0002_shows_the_decline(
    browser: Browser, client: stripe.StripeClient
) -> None:
    page = browser.new_page()
    page.route("http://127.0.0.1:9/**", lambda route: route.fulfill(body="thanks"))
    declined = _session(client)
    _pay(page, declined.url, "4000000000000002")
    page.wait_for_selector("#error:has-text('Your card was declined.')", timeout=10_000)
    assert client.v1.checkout.sessions.retrieve(declined.id).status == "open"

    paid = _session(client)
    _pay(page, paid.url, "4242 4242 4242 4242")
    page.wait_for_url(f"http://127.0.0.1:9/done?session_id={paid.id}", timeout=10_000)
    assert client.v1.checkout.sessions.retrieve(paid.id).status == "complete"
    page.close()


def _shop(page: Page, sandbox_url: str) -> None:
    """A merchant page with a card Element from the sandbox's Stripe.js stand-in.

    It is served (by Playwright) from the sandbox's origin: Chromium's local-network rules
    would stop another origin's page from calling the sandbox on 127.0.0.1.
    """
    shop = f"{sandbox_url}/shop-test-page"
    html = (
        f"<div id=card></div><script src='{sandbox_url}/js.stripe.com/v3/'></script>"
        "<script>window.stripe = Stripe('pk_test_sandbox');"
        "window.card = stripe.elements().create('card'); card.mount('#card');</script>"
    )
    page.route(shop, lambda route: route.fulfill(body=html, content_type="text/html"))
    page.goto(shop)


def _type_card(page: Page, number: str) -> None:
    """Into the card Element's fields, found by their labels as in Stripe's Card Element."""
    typed = (("Card number", number), ("Expiration date", "12 / 34"), ("Security code", "123"))
    for label, value in (*typed, ("ZIP", "42424")):
        page.get_by_label(label, exact=True).fill(value)


def _confirm(page: Page, secret: str) -> None:
    page.evaluate(
        "secret => { window.outcome = null; stripe.confirmCardPayment(secret,"
        " {payment_method: {card}}).then(r => { window.outcome = r; }); }",
        secret,
    )


def _outcome(page: Page) -> Any:
    return page.wait_for_function("window.outcome", timeout=10_000).json_value()


@pytest.mark.parametrize(
    ("number", "status", "code"),
    [
        ("4242424242424242", "succeeded", None),
        ("4000000000000002", None, "card_declined"),
        ("4000002500003155", "succeeded", None),
    ],
)
def test_stripe_js_card_element_confirms_with_the_typed_card(
    browser: Browser, sandbox: Any, number: str, status: str | None, code: str | None
) -> None:
    intent = sandbox.client.v1.payment_intents.create(params={"amount": 1500, "currency": "usd"})
    page = browser.new_page()
    _shop(page, sandbox.url)
    _type_card(page, number)
    _confirm(page, intent.client_secret)
    if number == "4000002500003155":
        page.click("text=Complete authentication")
    outcome = _outcome(page)
    if code:
        assert outcome["error"]["code"] == code
    else:
        assert outcome["paymentIntent"]["status"] == status
    page.close()


def test_stripe_js_create_payment_method(browser: Browser, sandbox: Any) -> None:
    page = browser.new_page()
    _shop(page, sandbox.url)
    _type_card(page, "5555555555554444")
    made = page.evaluate("stripe.createPaymentMethod({type: 'card', card})")
    assert made["paymentMethod"]["card"]["last4"] == "4444"
    assert (
        sandbox.client.v1.payment_methods.retrieve(made["paymentMethod"]["id"]).card.brand
        == "mastercard"
    )
    page.close()
