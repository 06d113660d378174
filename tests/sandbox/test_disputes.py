"""Disputes from Stripe's test cards: opened by the charge, ended by evidence or closing,
with Stripe's events and the fixture's shape."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.support.sandbox import assert_shape


def paid(client: stripe.StripeClient, card: str) -> Any:
    return client.v1.payment_intents.create(
        params={"amount": 1500, "currency": "usd", "payment_method": card, "confirm": True}
    )


def opened(client: stripe.StripeClient, intent: Any) -> Any:
    [dispute] = client.v1.disputes.list(params={"payment_intent": intent.id}).data
    return dispute


def told(client: stripe.StripeClient, dispute_id: str) -> list[tuple[str, str]]:
    """(type, status) of the dispute's events, oldest first."""
    listed = client.v1.events.list(params={"limit": 100}).data
    return [
        (event.type, event.data.object.status)
        for event in reversed(listed)
        if event.type.startswith("charge.dispute.") and event.data.object.id == dispute_id
    ]


def test_a_disputed_card_opens_a_chargeback_that_winning_evidence_wins(
    client: stripe.StripeClient,
) -> None:
    intent = paid(client, "pm_card_createDispute")
    assert intent.status == "succeeded"
    dispute = opened(client, intent)
    assert_shape(dispute)
    assert (dispute.status, dispute.amount, dispute.charge) == (
        "needs_response",
        1500,
        intent.latest_charge,
    )
    assert dispute.payment_method_details.card.case_type == "chargeback"
    assert client.v1.charges.retrieve(str(intent.latest_charge)).disputed is True

    won = client.v1.disputes.update(
        dispute.id, params={"evidence": {"uncategorized_text": "winning_evidence"}}
    )
    assert (won.status, won.evidence_details.submission_count) == ("won", 1)
    assert told(client, dispute.id) == [
        ("charge.dispute.created", "needs_response"),
        ("charge.dispute.funds_withdrawn", "needs_response"),
        ("charge.dispute.closed", "won"),
        ("charge.dispute.funds_reinstated", "won"),
    ]
    with pytest.raises(stripe.InvalidRequestError, match="already closed"):
        client.v1.disputes.close(dispute.id)


def test_losing_evidence_loses_and_other_evidence_waits_for_review(
    client: stripe.StripeClient,
) -> None:
    dispute = opened(client, paid(client, "pm_card_createDispute"))
    staged = client.v1.disputes.update(
        dispute.id, params={"evidence": {"product_description": "credits"}, "submit": False}
    )
    assert (staged.status, staged.evidence.product_description) == ("needs_response", "credits")
    review = client.v1.disputes.update(
        dispute.id, params={"evidence": {"uncategorized_text": "see the receipt"}}
    )
    assert review.status == "under_review"
    lost = client.v1.disputes.update(
        dispute.id, params={"evidence": {"uncategorized_text": "losing_evidence"}}
    )
    assert lost.status == "lost"
    with pytest.raises(stripe.InvalidRequestError, match="evidence\\[surprise\\]"):
        client.v1.disputes.update(
            opened(client, paid(client, "pm_card_createDispute")).id,
            params={"evidence": {"surprise": "x"}},
        )


def test_an_inquiry_moves_no_funds_and_closing_it_ends_it(client: stripe.StripeClient) -> None:
    intent = paid(client, "pm_card_createDisputeInquiry")
    dispute = opened(client, intent)
    assert dispute.status == "warning_needs_response"
    assert dispute.payment_method_details.card.case_type == "inquiry"
    closed = client.v1.disputes.close(dispute.id)
    assert closed.status == "warning_closed"
    assert told(client, dispute.id) == [
        ("charge.dispute.created", "warning_needs_response"),
        ("charge.dispute.closed", "warning_closed"),
    ]
