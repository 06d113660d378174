"""The customer's credits and billing pages in a real browser (Debian's Chromium via
Playwright) against `billing demo`: auto top-up settings (refused without a saved card,
saved with one), and a top-up paid with card 4242 through the payment form that shows on
the billing page with a receipt that opens. Each page is checked by axe-core (no serious
or critical violation) and shown at desktop and phone widths.

Screenshots go to `<pytest basetemp>/frontend-screenshots/<test>/`; each path is printed.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.frontend.test_browser import Api, balance_is, settle, type_card
from tests.runtime.test_demo import Demo
from tests.support.axe import NEEDS_AXE, assert_accessible
from tests.support.browser import NEEDS_CHROMIUM
from tests.support.sandbox import wait_for
from tests.support.screens import NEEDS_FRONTEND_BUILD, at_both_widths, shot, sign_in

pytestmark = [NEEDS_CHROMIUM, NEEDS_AXE, NEEDS_FRONTEND_BUILD]


def pay_and_save_the_card(page: Page) -> None:
    """$25.00 with card 4242 through the payment form, "save this card" ticked."""
    page.get_by_label("Amount (USD)").fill("25.00")
    type_card(page, "4242424242424242")
    page.get_by_role("checkbox", name="Save this card for auto top-up").check()
    page.get_by_role("button", name="Pay $25.00").click()
    expect(page.get_by_role("status").filter(has_text="succeeded")).to_have_text(
        "Payment of $25.00 succeeded. 2,500 credits will be added to your balance."
    )
    balance_is(page, 2500)


def test_auto_top_up_needs_a_saved_card_then_saves(page: Page, demo: Demo, shots: Path) -> None:
    user = Api(demo, 311)
    sign_in(page, demo, user.user_id)
    expect(page.get_by_test_id("credit-history-empty")).to_have_text("No transactions yet.")
    expect(page.get_by_test_id("usage-empty")).to_be_visible()
    expect(page.get_by_test_id("credit-expiring-none")).to_be_visible()

    form = page.get_by_role("form", name="Auto top-up settings")
    form.get_by_label("Tell me when my balance falls below (credits)").fill("300")
    form.get_by_role("checkbox", name="Top up automatically with my saved card").check()
    form.get_by_label("When my balance falls below (credits)", exact=True).fill("200")
    form.get_by_label("Top up by (USD)").fill("10.00")
    form.get_by_label("At most per month (USD)").fill("50.00")
    with page.expect_response(re.compile(r"/settings$")) as refused:
        form.get_by_role("button", name="Save settings").click()
    assert refused.value.status == 422
    assert refused.value.json()["code"] == "payment_method_required"
    problem = form.get_by_test_id("settings-problem")
    expect(problem.get_by_role("alert")).to_contain_text("The settings were not saved:")
    expect(problem).to_contain_text("“Save this card for auto top-up”")
    assert_accessible(page, "the credits page with a refused setting")
    shot(page, shots, "credits-settings-refused")

    pay_and_save_the_card(page)
    wait_for(lambda: user.get(f"/api/stripe/saved-card/{user.user_id}") is not None, 20)
    form.get_by_role("button", name="Save settings").click()
    expect(form.get_by_test_id("settings-said")).to_have_text("Settings saved: auto top-up is on.")
    expect(problem).to_have_count(0)
    saved = user.get(f"/api/financial/credits/{user.user_id}/settings")
    assert saved["low_balance_threshold"] == 300
    assert saved["auto_topup"] == {
        "enabled": True,
        "threshold": 200,
        "amount": 1000,
        "currency": "usd",
        "monthly_limit": 5000,
        "paused_at": None,
        "pause_reason": None,
    }

    # What the page shows once the credits are in: the history and the month's chart.
    expect(page.get_by_test_id("credit-history")).to_contain_text("+2,500")
    chart = page.get_by_test_id("usage-chart")
    expect(chart.locator(".chart-area")).to_have_attribute(
        "aria-label", re.compile(r"0 credits spent, 2,500 credits granted\.$")
    )
    expect(chart.locator(".recharts-bar-rectangle").first).to_be_visible()
    page.reload()  # what was saved is what the form shows
    form = page.get_by_role("form", name="Auto top-up settings")
    expect(form.get_by_label("Top up by (USD)")).to_have_value("10.00")
    auto = form.get_by_role("checkbox", name="Top up automatically with my saved card")
    expect(auto).to_be_checked()
    expect(page.get_by_test_id("usage-chart")).to_be_visible()
    assert_accessible(page, "the credits page")
    at_both_widths(page, shots, "credits")


def test_billing_shows_the_payment_and_its_receipt(page: Page, demo: Demo, shots: Path) -> None:
    user = Api(demo, 312)
    sign_in(page, demo, user.user_id)
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", level=1, name="Billing")).to_be_focused()
    expect(page.get_by_test_id("payments-empty")).to_have_text("No payments yet.")
    expect(page.get_by_test_id("saved-card-none")).to_be_visible()
    assert_accessible(page, "the billing page with nothing on it")
    shot(page, shots, "billing-empty")

    nav.get_by_role("link", name="Credits").click()
    pay_and_save_the_card(page)
    settle(demo)
    nav.get_by_role("link", name="Billing").click()
    paid = page.get_by_test_id("payments").locator("tr[data-status=succeeded]")
    expect(paid).to_have_count(1)
    expect(paid).to_contain_text("Top-up")
    expect(paid).to_contain_text("$25.00")
    expect(paid).to_contain_text("2,500 credits")
    expect(page.get_by_test_id("saved-card")).to_have_text("Visa ending in 4242, expires 12/2034")

    receipt = paid.get_by_role("link", name=re.compile(r"^Receipt for \$25\.00"))
    href = receipt.get_attribute("href") or ""
    answer = httpx.get(href)
    assert answer.status_code == 200, href
    assert "$25.00" in answer.text
    with page.context.expect_page() as opened:
        receipt.click()  # a new tab, on the sandbox's copy of Stripe's receipt page
    tab = opened.value
    tab.wait_for_load_state()
    expect(tab.get_by_role("heading", name="Receipt")).to_be_visible()
    tab.close()

    assert_accessible(page, "the billing page")
    at_both_widths(page, shots, "billing")

    page.get_by_role("button", name="Manage cards and invoices in Stripe").click()
    page.wait_for_url(re.compile(r"/p/session/"))  # the sandbox's customer portal
    shot(page, shots, "billing-portal")


PUBLIC_PAGES = [  # (fragment, its heading, screenshot name)
    ("#/", None, "pricing"),
    ("#/sign-in", None, "sign-in"),
    ("#/nowhere", "Page not found", "not-found"),
]
USER_PAGES = [
    ("#/credits", "Credits", "credits-new-user"),
    ("#/subscription", None, "subscription"),
    ("#/billing", None, "billing-new-user"),
]


def test_every_public_and_customer_page_is_accessible_at_both_widths(
    page: Page, demo: Demo, shots: Path
) -> None:
    """Signed out, then as a new user: axe finds nothing serious on any page, and each is
    shown at 1280 px and at 390 px without scrolling sideways."""
    for pages in (PUBLIC_PAGES, USER_PAGES):
        if pages is USER_PAGES:
            sign_in(page, demo, 321)
        for fragment, heading, name in pages:
            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto(f"{demo.base}/{fragment}")
            title = page.get_by_role("heading", level=1)
            expect(title).to_be_visible()
            if heading:
                expect(title).to_have_text(heading)
            expect(page.get_by_role("status").filter(has_text="Loading")).to_have_count(0)
            assert_accessible(page, name)
            at_both_widths(page, shots, name)
