"""Money flows end to end: the service, its worker and the sandbox's signed webhooks."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import Live
from tests.support.flows import (
    advance,
    checkout,
    clocked_customer,
    price,
    subscriptions,
    transactions,
)
from tests.support.sandbox import wait_for

SETTLE_SECONDS = 1.5  # long enough for a duplicate grant to have shown up if there were one


def settle(live: Live) -> None:
    """Wait until the inbox holds nothing still to process, then a little longer."""
    time.sleep(SETTLE_SECONDS)
    wait_for(lambda: not live.inbox("pending") and not live.inbox("failed"), timeout=20)


def test_checkout_payment_mode_grants_credits_once(live: Live) -> None:
    user = 101
    top_up = price(live.stripe, 500, 500, monthly=False)
    checkout(live, user, top_up.id, "payment", quantity=2)
    live.wait_balance(user, 1000)
    settle(live)
    assert live.balance(user) == 1000
    assert [t["kind"] for t in transactions(live, user)] == ["purchase"]


def test_subscription_renews_fails_and_recovers_by_the_clock(live: Live, database_url: str) -> None:
    user = 102
    clock, customer = clocked_customer(live, user, database_url)
    plan = price(live.stripe, 1000, 1000, monthly=True)
    checkout(live, user, plan.id, "subscription")
    live.wait_balance(user, 1000)
    wait_for(lambda: [s["status"] for s in subscriptions(live, user)] == ["active"])

    advance(live, clock, 31)
    live.wait_balance(user, 2000)
    settle(live)
    assert live.balance(user) == 2000
    grants = [t for t in transactions(live, user) if t["kind"] == "subscription_grant"]
    assert len(grants) == 2

    failing = live.stripe.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", {"customer": customer.id}
    )
    subscription_id = subscriptions(live, user)[0]["id"]
    live.stripe.v1.subscriptions.update(subscription_id, {"default_payment_method": failing.id})
    advance(live, clock, 31)
    wait_for(lambda: subscriptions(live, user)[0]["status"] == "past_due", timeout=20)
    settle(live)
    assert live.balance(user) == 2000  # a failed renewal grants nothing
    with live.http() as http:
        summary = http.get(
            f"/api/financial/subscriptions/{user}/summary", headers=live.user(user)
        ).json()
    assert summary["status"] == "past_due"


def test_cancel_at_period_end_keeps_it_active_until_the_period_ends(
    live: Live, database_url: str
) -> None:
    user = 103
    clock, _ = clocked_customer(live, user, database_url)
    plan = price(live.stripe, 2000, 3000, monthly=True)
    checkout(live, user, plan.id, "subscription")
    wait_for(lambda: [s["status"] for s in subscriptions(live, user)] == ["active"])
    subscription_id = subscriptions(live, user)[0]["id"]
    with live.http() as http:
        reply = http.delete(
            f"/api/stripe/subscriptions/{subscription_id}",
            params={"at_period_end": "true"},
            headers=live.user(user),
        )
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "active"
    assert reply.json()["cancel_at_period_end"] is True
    advance(live, clock, 32)
    wait_for(lambda: subscriptions(live, user)[0]["status"] == "canceled", timeout=20)
    settle(live)
    assert live.balance(user) == 3000  # the period that was paid for, and no renewal


def test_refund_claws_back_in_proportion(live: Live) -> None:
    user = 104
    top_up = price(live.stripe, 1000, 800, monthly=False)
    session = checkout(live, user, top_up.id, "payment")
    live.wait_balance(user, 800)
    live.stripe.v1.refunds.create({"payment_intent": session.payment_intent, "amount": 250})
    live.wait_balance(user, 600)
    live.stripe.v1.refunds.create({"payment_intent": session.payment_intent})
    live.wait_balance(user, 0)
    settle(live)
    kinds = sorted(t["kind"] for t in transactions(live, user))
    assert kinds == ["purchase", "refund_clawback", "refund_clawback"]


def _move_to_half_period(live: Live, clock: Any, subscription_id: str) -> Any:
    """The clock at the exact middle of the period (whole days, so an even second count)."""
    item = live.stripe.v1.subscriptions.retrieve(subscription_id)["items"].data[0]
    middle = (item.current_period_start + item.current_period_end) // 2
    live.stripe.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": middle})
    return item


def test_plan_changes_grant_and_take_back_their_share_of_the_period(
    live: Live, database_url: str
) -> None:
    """Half-way through a period: an upgrade billed at once grants the new plan's half less
    the old one's; a downgrade left pending takes its share back on the renewal, which
    the customer's balance pays."""
    user = 105
    clock, _ = clocked_customer(live, user, database_url)
    small, large = price(live.stripe, 1000, 1000, True), price(live.stripe, 3000, 3000, True)
    cheap = price(live.stripe, 500, 200, True)
    checkout(live, user, small.id, "subscription")
    live.wait_balance(user, 1000)
    subscription_id = subscriptions(live, user)[0]["id"]
    item = _move_to_half_period(live, clock, subscription_id)

    upgrade = {"items": [{"id": item.id, "price": large.id}]}
    live.stripe.v1.subscriptions.update(
        subscription_id, {**upgrade, "proration_behavior": "always_invoice"}
    )
    live.wait_balance(user, 1000 - 500 + 1500)
    downgrade = {"items": [{"id": item.id, "price": cheap.id}]}
    live.stripe.v1.subscriptions.update(
        subscription_id, {**downgrade, "proration_behavior": "create_prorations"}
    )
    advance(live, clock, 16)  # renewal: cheap plan 200, large half -1500, cheap half +100
    live.wait_balance(user, 2000 + 200 - 1500 + 100)
    settle(live)
    assert live.balance(user) == 800
    kinds = [t["kind"] for t in transactions(live, user)]
    assert sorted(kinds) == ["subscription_clawback", "subscription_grant", "subscription_grant"]
