"""Checkout paid by bank debit, end to end: the session completes unpaid and grants nothing;
the bank's answer (at the test clock's advance) grants the credits once, or never."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Live
from tests.e2e.test_flows import settle
from tests.support.flows import advance, clocked_customer, create_checkout, price, transactions
from tests.support.payments import fresh_user


def pay_by_ach(live: Live, user: int, database_url: str, account: str) -> tuple[Any, Any]:
    """A service-made Checkout for 1,000 credits confirmed with a US bank account, as
    Stripe's page would; the bank has not answered yet. The clock and the session id."""
    clock, _ = clocked_customer(live, user, database_url)
    top_up = price(live.stripe, 1000, 1000, monthly=False)
    session = create_checkout(live, user, top_up.id, "payment")
    bank = {"routing_number": "110000000", "account_number": account}
    method = live.stripe.v1.payment_methods.create(
        {"type": "us_bank_account", "us_bank_account": bank}
    )
    with live.sandbox.http() as http:
        reply = http.post(
            f"/v1/payment_pages/{session['id']}/confirm",
            data={"payment_method": method.id, "expected_amount": 1000},
        )
    assert reply.status_code == 200, reply.text
    assert live.stripe.v1.checkout.sessions.retrieve(session["id"]).payment_status == "unpaid"
    return clock, session["id"]


def test_credits_come_when_the_bank_pays(live: Live, database_url: str) -> None:
    user = fresh_user()
    clock, _ = pay_by_ach(live, user, database_url, "000123456789")
    settle(live)
    assert live.balance(user) == 0  # completed, unpaid: nothing granted yet
    advance(live, clock, days=1)
    live.wait_balance(user, 1000)
    settle(live)
    assert [t["kind"] for t in transactions(live, user)] == ["purchase"]


def test_no_credits_when_the_bank_returns_the_debit(live: Live, database_url: str) -> None:
    user = fresh_user()
    clock, session_id = pay_by_ach(live, user, database_url, "000222222227")
    advance(live, clock, days=1)
    session = live.stripe.v1.checkout.sessions.retrieve(session_id)
    assert session.payment_status == "unpaid"
    settle(live)
    assert live.balance(user) == 0
    assert transactions(live, user) == []
    assert "checkout.session.async_payment_failed" in {e["type"] for e in live.inbox()}
