"""The hosted Checkout page in a real browser (Debian's Chromium via Playwright)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"{CHROMIUM} is missing: install Debian's chromium (make browser)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        launched.close()


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
