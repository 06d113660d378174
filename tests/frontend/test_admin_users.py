"""The admin's users pages in a real browser (Debian's Chromium via Playwright) against
`billing demo`: finding a user, their page, granting credits that expire (seen on the
admin's page and on the user's own credits page) and voiding a grant. Each page is checked
by axe-core (no serious or critical violation) and shown at desktop and phone widths.

Screenshots go to `<pytest basetemp>/frontend-screenshots/<test>/`; each path is printed.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.frontend.test_browser import Api, balance_is, buy_top_up, settle
from tests.runtime.test_demo import Demo
from tests.support.axe import NEEDS_AXE, assert_accessible
from tests.support.browser import NEEDS_CHROMIUM
from tests.support.screens import (
    NEEDS_FRONTEND_BUILD,
    at_both_widths,
    short_date,
    shot,
    sign_in,
    sign_in_as_admin,
)

pytestmark = [NEEDS_CHROMIUM, NEEDS_AXE, NEEDS_FRONTEND_BUILD]

# A day a month from now in the browser's own zone, as a date field takes it.
MONTH_AHEAD = """() => {
  const day = new Date(Date.now() + 30 * 86400000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${day.getFullYear()}-${pad(day.getMonth() + 1)}-${pad(day.getDate())}`;
}"""


@pytest.fixture(scope="module")
def admin(demo: Demo) -> Api:
    return Api(demo, 1, "admin")


def user_balance_is(page: Page, credits: int) -> None:
    expect(page.get_by_test_id("user-balance")).to_have_attribute("data-value", str(credits))


def test_granting_credits_that_expire_shows_on_both_pages(
    page: Page, demo: Demo, admin: Api, shots: Path
) -> None:
    buyer = Api(demo, 301)
    buy_top_up(demo, buyer)  # 500 credits that never expire, a Stripe customer, a payment
    settle(demo)

    sign_in_as_admin(page, demo)
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", level=1, name="Users")).to_be_focused()
    search = page.get_by_label("User id, email or Stripe customer id")
    search.fill("ada lovelace")
    search.press("Enter")
    expect(page.get_by_test_id("users-invalid")).to_contain_text(
        "“ada lovelace” is not a user id, an email or a Stripe customer id."
    )
    search.fill(str(buyer.user_id))
    search.press("Enter")
    found = page.get_by_test_id("users-table")
    expect(found).to_contain_text("500 credits")
    assert_accessible(page, "the user search")
    at_both_widths(page, shots, "admin-users-search")

    found.get_by_role("link", name=f"User {buyer.user_id}").click()
    page.wait_for_url(re.compile(rf"#/admin/users/{buyer.user_id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"User {buyer.user_id}")
    user_balance_is(page, 500)
    customer = page.get_by_role("link", name=re.compile(r"^cus_\S+ in Stripe\u2019s dashboard"))
    expect(customer).to_have_attribute(
        "href", re.compile(r"^https://dashboard\.stripe\.com/customers/cus_")
    )
    payments = page.get_by_test_id("payments")
    expect(payments.get_by_role("link", name=re.compile("^Receipt"))).to_be_visible()
    expect(payments.get_by_role("link", name=re.compile("^Stripe"))).to_have_attribute(
        "href", re.compile(r"^https://dashboard\.stripe\.com/payments/pi_")
    )

    form = page.get_by_role("form", name="Grant credits")
    form.get_by_label("Credits", exact=True).fill("500")
    form.get_by_label("Expires at the end of").fill(page.evaluate(MONTH_AHEAD))
    form.get_by_label("Reason", exact=True).fill("Goodwill after the outage")
    form.get_by_role("button", name="Grant credits…").click()
    dialog = page.get_by_role("alertdialog", name=f"Grant 500 credits to user {buyer.user_id}?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    expect(dialog.get_by_test_id("grant-summary")).to_contain_text("Goodwill after the outage")
    assert_accessible(page, "the grant dialog")
    shot(page, shots, "admin-user-grant-dialog")
    page.keyboard.press("Shift+Tab")  # from Cancel to the action, by keyboard alone
    expect(dialog.get_by_role("button", name="Grant credits")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_test_id("user-said")).to_contain_text("Granted 500 credits")
    user_balance_is(page, 1000)
    grants = admin.get(f"/api/financial/credits/{buyer.user_id}/grants", status="active")["data"]
    granted = next(grant for grant in grants if grant["source"] == "admin")
    assert (granted["amount"], granted["remaining"]) == (500, 500)
    row = page.locator(f'tr[data-grant-id="{granted["id"]}"]')
    expect(row).to_contain_text("Admin grant")
    expect(row.locator("[data-expires-at]")).to_have_attribute(
        "data-expires-at", re.compile(r"^\d{4}-\d{2}-\d{2}T")
    )
    expires = short_date(page, granted["expires_at"])
    expect(page.get_by_test_id("user-expiring")).to_contain_text(f"500 credits expire on {expires}")
    expect(page.get_by_role("region", name="Audit trail")).to_contain_text("credit.admin_grant")
    assert_accessible(page, "the user's page")
    at_both_widths(page, shots, "admin-user")

    # The user sees the same grant on their own credits page.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, demo, buyer.user_id)
    balance_is(page, 1000)
    soonest = page.get_by_test_id("credit-expiring").get_by_role("listitem").first
    expect(soonest).to_have_text(f"500 credits expire on {expires}")
    shot(page, shots, "credits-with-expiring-grant")


def test_voiding_a_grant_drops_the_balance(page: Page, demo: Demo, admin: Api, shots: Path) -> None:
    user_id = 302
    answer = httpx.post(
        f"{demo.base}/api/financial/credits/{user_id}/add",
        json={"amount": 700, "reason": "Trial credits", "source": "promotion"},
        headers={**admin.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    answer.raise_for_status()
    grant_id = answer.json()["grant"]["id"]

    sign_in_as_admin(page, demo)
    page.goto(f"{demo.base}/#/admin/users/{user_id}")
    user_balance_is(page, 700)
    page.get_by_role("button", name=f"Void grant #{grant_id}").click()
    dialog = page.get_by_role("alertdialog", name=f"Void grant #{grant_id}?")
    expect(dialog).to_contain_text("The 700 credits that remain of this promotion grant")
    dialog.get_by_role("button", name="Void grant").click()
    expect(dialog.get_by_role("alert")).to_have_text("Say why the grant is voided.")
    dialog.get_by_label("Reason").fill("Granted to the wrong user")
    assert_accessible(page, "the void dialog")
    shot(page, shots, "admin-user-void-dialog")
    dialog.get_by_role("button", name="Void grant").click()

    expect(page.get_by_test_id("user-said")).to_have_text(
        f"Voided grant #{grant_id}. The balance is now 0 credits."
    )
    user_balance_is(page, 0)
    assert Api(demo, user_id).balance() == 0
    expect(page.get_by_test_id("grants-empty")).to_have_text("No active grants.")
    grants = page.get_by_role("region", name="Grants", exact=True)
    grants.get_by_label("Status").select_option("voided")
    voided = page.locator(f'tr[data-grant-id="{grant_id}"]')
    expect(voided).to_have_attribute("data-status", "voided")
    expect(voided).to_contain_text("0 of 700")
    expect(page.get_by_test_id("credit-history").locator('tr[data-kind="void"]')).to_contain_text(
        "\u2212700"  # a minus sign
    )
    assert_accessible(page, "the user's page after a void")
    at_both_widths(page, shots, "admin-user-voided")
