"""A customer's billing page data, end to end: their payments with Stripe's receipt and
hosted invoice (asked of the sandbox once, then kept), and their saved card."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import Live
from tests.e2e.test_auto_topup import save_card
from tests.support.flows import checkout, price
from tests.support.payments import fresh_user
from tests.support.sandbox import wait_for


def records(live: Live, user: int, **params: Any) -> dict[str, Any]:
    with live.http() as http:
        reply = http.get(f"/api/stripe/invoices/{user}", params=params, headers=live.user(user))
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def test_a_top_up_has_its_receipt_and_the_card_is_shown(live: Live) -> None:
    user = fresh_user()
    save_card(live, user)
    [topup] = records(live, user)["data"]
    assert (topup["kind"], topup["status"], topup["amount"]) == ("topup", "succeeded", 1000)
    assert topup["invoice_url"] is None
    receipt = httpx.get(topup["receipt_url"], timeout=10)
    assert receipt.status_code == 200
    assert "$10.00" in receipt.text
    assert records(live, user)["data"][0]["receipt_url"] == topup["receipt_url"]  # kept
    with live.http() as http:
        card = http.get(f"/api/stripe/saved-card/{user}", headers=live.user(user)).json()
    assert card == {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}


def test_a_subscription_payment_has_its_hosted_invoice(live: Live) -> None:
    user = fresh_user()
    plan = price(live.stripe, 1500, 1500, monthly=True)
    checkout(live, user, plan.id, "subscription")
    found = wait_for(lambda: records(live, user)["data"], timeout=20)
    [payment] = found
    assert payment["kind"] == "invoice"
    page = httpx.get(payment["invoice_url"], timeout=10)
    assert page.status_code == 200
    assert "Paid" in page.text
    assert "$15.00" in page.text
    assert httpx.get(payment["receipt_url"], timeout=10).status_code == 200


def test_payments_are_paged_and_private(live: Live) -> None:
    user = fresh_user()
    save_card(live, user)
    first = records(live, user, limit=1)
    assert (len(first["data"]), first["has_more"]) == (1, False)
    with live.http() as http:
        other = http.get(f"/api/stripe/invoices/{user}", headers=live.user(user + 1))
        nobody = http.get(f"/api/stripe/saved-card/{user + 1}", headers=live.user(user + 1))
    assert other.status_code == 403
    assert (nobody.status_code, nobody.json()) == (200, None)
