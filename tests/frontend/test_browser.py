"""The web app in a real browser (Debian's Chromium via Playwright) against `billing demo`.

One demo stack (service + Stripe sandbox, SQLite) serves the module; each test signs in
as its own user through the development sign-in, so tests neither share a balance nor
depend on their order. Cards are typed into the sandbox's Stripe.js stand-in and its
hosted Checkout page, as a customer would. A screenshot of each page goes to
`<pytest basetemp>/frontend-screenshots/<test>/`; each path is printed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from billing.runtime.demo import SECRET_KEY
from tests.runtime.test_demo import Demo
from tests.runtime.test_demo import _pay as pay
from tests.support.browser import NEEDS_CHROMIUM
from tests.support.sandbox import wait_for
from tests.support.screens import (
    NEEDS_FRONTEND_BUILD,
    at_both_widths,
    shot,
    sign_in,
    sign_in_as_admin,
)

CREDIT_MS = 20_000  # credits arrive by webhook: the page polls until they do

pytestmark = [NEEDS_CHROMIUM, NEEDS_FRONTEND_BUILD]


class Api:
    """The service's API as the test's witness, with a token from the development sign-in."""

    def __init__(self, demo: Demo, user_id: int, role: str = "user") -> None:
        self.base, self.user_id = demo.base, user_id
        body = {"user_id": user_id, "role": role}
        answer = httpx.post(f"{demo.base}/api/dev/sign-in", json=body)
        answer.raise_for_status()
        self.headers = {"Authorization": f"Bearer {answer.json()['token']}"}

    def get(self, path: str, **params: str) -> Any:
        answer = httpx.get(f"{self.base}{path}", headers=self.headers, params=params)
        answer.raise_for_status()
        return answer.json()

    def balance(self) -> int:
        return int(self.get(f"/api/financial/credits/{self.user_id}")["balance"])


def settle(demo: Demo) -> None:
    """Wait until the webhook inbox has nothing left to process: the figures stop moving."""
    admin = Api(demo, 1, "admin")

    def drained() -> bool:
        due = [admin.get("/api/admin/webhooks", status=s)["data"] for s in ("pending", "failed")]
        return due == [[], []]

    wait_for(drained, 20)


def balance_is(page: Page, credits: int) -> None:
    expect(page.get_by_test_id("credit-balance")).to_have_attribute(
        "data-value", str(credits), timeout=CREDIT_MS
    )


def type_card(page: Page, number: str) -> None:
    """Into the card Element of the sandbox's Stripe.js stand-in, by its fields' labels as in
    Stripe's Card Element (the form hides the postal code)."""
    typed = (("Card number", number), ("Expiration date", "12 / 34"), ("Security code", "123"))
    for label, value in typed:
        page.get_by_label(label, exact=True).fill(value)


def pay_on_hosted_checkout(page: Page, shots: Path) -> None:
    page.wait_for_url(re.compile(r"/c/pay/"))
    page.fill("#email", "buyer@example.com")
    page.fill("#cardNumber", "4242 4242 4242 4242")
    page.fill("#cardExpiry", "12 / 34")
    page.fill("#cardCvc", "123")
    page.fill("#billingName", "Browser Buyer")
    shot(page, shots, "checkout")
    box = page.locator("button[type=submit]").bounding_box()
    other = page.get_by_role("link", name="Back").bounding_box()
    assert box is not None
    assert other is not None
    assert (other["x"], other["width"]) == (box["x"], box["width"])  # one column, as Stripe's
    page.click("button[type=submit]")


def test_buying_the_top_up_through_checkout_raises_the_balance(
    page: Page, demo: Demo, shots: Path
) -> None:
    api = Api(demo, 201)
    sign_in(page, demo, api.user_id)
    balance_is(page, 0)
    page.get_by_role("link", name="Pricing").click()
    expect(page.get_by_test_id("product-Top-up")).to_contain_text("$5.00")
    expect(page.get_by_test_id("product-Starter")).to_contain_text("1,000 credits every month")
    at_both_widths(page, shots, "pricing")

    page.get_by_role("button", name="Buy Top-up").click()
    pay_on_hosted_checkout(page, shots)
    page.wait_for_url(re.compile(r"#/credits\?checkout=success&session_id=cs_"))
    balance_is(page, 500)
    expect(page.get_by_test_id("credit-balance")).to_have_text("500 credits")
    expect(page.get_by_test_id("credit-history")).to_contain_text("+500")
    shot(page, shots, "credits-after-checkout")
    assert api.balance() == 500


@pytest.mark.parametrize(
    ("user_id", "card", "challenge", "credits"),
    [
        (202, "4242424242424242", False, 2500),
        (203, "4000000000000002", False, 0),
        (204, "4000002500003155", True, 2500),
    ],
    ids=["4242-succeeds", "0002-declined", "3155-3ds-challenge"],
)
def test_payment_form(
    page: Page,
    demo: Demo,
    shots: Path,
    user_id: int,
    card: str,
    challenge: bool,
    credits: int,
) -> None:
    api = Api(demo, user_id)
    sign_in(page, demo, user_id)
    page.get_by_label("Amount (USD)").fill("25.00")
    type_card(page, card)
    shot(page, shots, "card-typed")
    page.get_by_role("button", name="Pay $25.00").click()
    if challenge:
        authenticate = page.get_by_role("button", name="Complete authentication")
        authenticate.wait_for()
        shot(page, shots, "3ds-challenge")
        authenticate.click()

    if credits:
        expect(page.get_by_role("status").filter(has_text="succeeded")).to_have_text(
            "Payment of $25.00 succeeded. 2,500 credits will be added to your balance."
        )
        balance_is(page, credits)
    else:
        expect(page.get_by_role("alert")).to_have_text(
            "Your card was declined. Please try another card or contact your bank."
        )
        expect(page.get_by_role("button", name="Pay $25.00")).to_be_enabled()
    shot(page, shots, "outcome")
    settle(demo)  # a decline's events, too, are processed before the balance is read
    assert api.balance() == credits


def test_payment_form_saves_the_card_for_auto_top_up(page: Page, demo: Demo) -> None:
    api = Api(demo, 207)
    sign_in(page, demo, api.user_id)
    page.get_by_label("Amount (USD)").fill("25.00")
    type_card(page, "4242424242424242")
    save = page.get_by_role("checkbox", name="Save this card for auto top-up")
    expect(save).not_to_be_checked()
    save.check()
    with page.expect_response("**/api/stripe/create-payment-intent") as created:
        page.get_by_role("button", name="Pay $25.00").click()
    assert created.value.request.post_data_json["save_card"] is True
    expect(page.get_by_role("status").filter(has_text="succeeded")).to_be_visible()
    intent_id = created.value.json()["id"]
    url = f"{demo.sandbox}/v1/payment_intents/{intent_id}"
    intent = httpx.get(url, headers={"Authorization": f"Bearer {SECRET_KEY}"}).json()
    assert (intent["status"], intent["setup_future_usage"]) == ("succeeded", "off_session")
    balance_is(page, 2500)


def test_subscribing_then_canceling_at_period_end(page: Page, demo: Demo, shots: Path) -> None:
    api = Api(demo, 205)
    sign_in(page, demo, api.user_id)
    page.get_by_role("link", name="Subscription").click()
    page.get_by_role("button", name="Subscribe to Starter").click()
    pay_on_hosted_checkout(page, shots)
    page.wait_for_url(re.compile(r"#/subscription\?checkout=success"))

    status = page.get_by_test_id("subscription-status")
    expect(status).to_have_attribute("data-status", "active", timeout=CREDIT_MS)
    expect(status).to_have_text("Active")
    expect(page.get_by_test_id("subscription-plan")).to_contain_text("Starter $10.00 / month")
    expect(page.get_by_test_id("subscription-credits")).to_have_text("1,000 credits")
    shot(page, shots, "subscription-active")
    summary = api.get(f"/api/financial/subscriptions/{api.user_id}/summary")
    assert summary["status"] == "active"
    assert summary["renews_at"] is not None

    page.get_by_role("button", name="Cancel subscription").click()
    dialog = page.get_by_role("alertdialog", name="Cancel Starter?")
    expect(dialog.get_by_role("button", name="Keep my plan")).to_be_focused()
    shot(page, shots, "cancel-confirmation")
    dialog.get_by_role("button", name="Yes, cancel at period end").click()

    ending = page.get_by_test_id("subscription-ending")
    expect(ending).to_contain_text("Your plan is canceled and ends on")
    expect(status).to_have_text("Active")  # until the period ends
    shot(page, shots, "subscription-canceled")
    [subscription] = api.get(f"/api/stripe/subscriptions/{api.user_id}")
    assert subscription["cancel_at_period_end"] is True
    assert subscription["status"] == "active"
    summary = api.get(f"/api/financial/subscriptions/{api.user_id}/summary")
    assert summary["ends_at"] is not None
    shown = page.evaluate(
        "iso => new Intl.DateTimeFormat(undefined, {dateStyle: 'medium'}).format(new Date(iso))",
        summary["ends_at"],
    )
    expect(page.get_by_test_id("subscription-renewal")).to_have_text(shown)


def buy_top_up(demo: Demo, buyer: Api) -> None:
    """Through the API and the hosted page's own endpoint, as tests/runtime/test_demo.py does."""
    [price] = demo.products()["Top-up"]["prices"]
    body = {
        "user_id": buyer.user_id,
        "price_id": price["id"],
        "mode": "payment",
        "success_url": f"{demo.base}/",
        "cancel_url": f"{demo.base}/",
    }
    url = f"{demo.base}/api/stripe/create-checkout-session"
    session = httpx.post(url, json=body, headers=buyer.headers)
    session.raise_for_status()
    pay(session.json()["url"])
    wait_for(lambda: buyer.balance() == price["credits"], 20)


def _dashboard_figures(data: dict[str, Any]) -> dict[str, Any]:
    """data-testid -> the raw value the page must show for it."""
    figures: dict[str, Any] = {}
    for total in data["revenue"]["by_currency"]:
        for key in ("gross", "refunded", "net"):
            figures[f"revenue-{total['currency']}-{key}"] = total[key]
    for row in data["recurring"]:
        figures[f"mrr-{row['currency']}"] = row["mrr"]
        figures[f"arr-{row['currency']}"] = row["arr"]
    for key in ("active", "new", "canceled"):
        figures[f"subscriptions-{key}"] = data["subscriptions"][key]
    figures["subscriptions-churn"] = data["subscriptions"]["churn_rate"]
    figures["payments-succeeded"] = data["payments"]["succeeded"]
    figures["payments-failed"] = data["payments"]["failed"]
    figures["payments-failure-rate"] = data["payments"]["failure_rate"]
    for key in ("issued", "spent", "expired", "voided", "outstanding"):
        figures[f"credits-{key}"] = data["credits"][key]
    for split in ("liability", "breakage"):
        for key, value in data["credits"][split].items():
            figures[f"credits-{split}-{key}"] = value
    for key in ("received", "processed", "failed", "dead", "ignored"):
        figures[f"webhooks-{key}"] = data["webhooks"][key]
    return figures


def test_the_admin_dashboard_shows_the_apis_numbers(page: Page, demo: Demo, shots: Path) -> None:
    admin = Api(demo, 1, "admin")
    probe = httpx.get(f"{demo.base}/api/financial/admin/dashboard", headers=admin.headers)
    if probe.status_code == 404:
        pytest.skip("this service has no GET /api/financial/admin/dashboard yet")
    buy_top_up(demo, Api(demo, 206))  # revenue in USD today, whichever tests ran before
    settle(demo)
    data = admin.get("/api/financial/admin/dashboard")

    sign_in_as_admin(page, demo)
    expect(page.get_by_test_id("dashboard-range")).to_contain_text(
        f"{data['range']['from']} to {data['range']['to']}"
    )
    expect(page.get_by_test_id("subscriptions-active")).to_be_visible()
    shown = {
        test_id: float(page.get_by_test_id(test_id).get_attribute("data-value") or "nan")
        for test_id in _dashboard_figures(data)
    }
    assert shown == pytest.approx(_dashboard_figures(data))
    usd = next(t for t in data["revenue"]["by_currency"] if t["currency"] == "usd")
    expect(page.get_by_test_id("revenue-usd-net")).to_have_text(f"${usd['net'] / 100:,.2f}")
    chart = page.get_by_test_id("revenue-chart-usd")
    expect(chart.get_by_role("application")).to_be_visible()  # recharts' chart surface
    expect(chart.locator(".recharts-bar-rectangle").first).to_be_visible()
    at_both_widths(page, shots, "admin-dashboard")

    page.get_by_role("button", name="Last 7 days").click()
    week = page.get_by_test_id("dashboard-range")
    expect(week).to_contain_text(f"to {data['range']['to']}")
    seven = admin.get("/api/financial/admin/dashboard", **_range_shown(week.inner_text()))
    expect(page.get_by_test_id("credits-issued")).to_have_attribute(
        "data-value", str(seven["credits"]["issued"])
    )


def _range_shown(text: str) -> dict[str, str]:
    days = re.findall(r"\d{4}-\d{2}-\d{2}", text)
    return {"from": days[0], "to": days[1]}
