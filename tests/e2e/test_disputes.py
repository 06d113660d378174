"""Disputes end to end: a top-up paid with Stripe's disputing test card is credited, its
credits are clawed back when the chargeback takes the funds, and given back when the
dispute is won; an inquiry moves nothing."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Live
from tests.e2e.test_flows import settle
from tests.support.flows import transactions
from tests.support.payments import fresh_user
from tests.support.sandbox import wait_for


def top_up(live: Live, user: int, card: str) -> Any:
    """A payment-form top-up of 1000 cents, paid with `card`; the sandbox's intent."""
    with live.http() as http:
        reply = http.post(
            "/api/stripe/create-payment-intent",
            json={"user_id": user, "amount": 1000, "currency": "usd"},
            headers=live.user(user),
        )
    assert reply.status_code == 200, reply.text
    return live.stripe.v1.payment_intents.confirm(
        reply.json()["id"], params={"payment_method": card}
    )


def kinds(live: Live, user: int) -> list[str]:
    return [t["kind"] for t in reversed(transactions(live, user))]


def test_a_chargeback_claws_back_and_winning_it_gives_back(live: Live) -> None:
    user = fresh_user()
    intent = top_up(live, user, "pm_card_createDispute")
    wait_for(lambda: kinds(live, user) == ["purchase", "refund_clawback"], timeout=20)
    assert live.balance(user) == 0
    [dispute] = live.stripe.v1.disputes.list(params={"payment_intent": intent.id}).data
    live.stripe.v1.disputes.update(
        dispute.id, params={"evidence": {"uncategorized_text": "winning_evidence"}}
    )
    live.wait_balance(user, 1000)
    settle(live)
    assert kinds(live, user) == ["purchase", "refund_clawback", "dispute_reinstatement"]


def test_an_inquiry_moves_no_credits_until_it_is_lost(live: Live) -> None:
    user = fresh_user()
    intent = top_up(live, user, "pm_card_createDisputeInquiry")
    live.wait_balance(user, 1000)
    settle(live)
    assert kinds(live, user) == ["purchase"]
    [dispute] = live.stripe.v1.disputes.list(params={"payment_intent": intent.id}).data
    live.stripe.v1.disputes.update(
        dispute.id, params={"evidence": {"uncategorized_text": "losing_evidence"}}
    )
    live.wait_balance(user, 0)
    settle(live)
    assert kinds(live, user) == ["purchase", "refund_clawback"]
