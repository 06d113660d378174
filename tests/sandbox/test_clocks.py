"""Test clocks: renewals paid or failed, trials ending, cancellation at period end."""

from __future__ import annotations

import time
from typing import Any

import pytest
import stripe

from tests.support.sandbox import assert_shape, customer_with_card, event_types, recurring_price

HOUR = 3600


def _clocked(client: stripe.StripeClient, **params: Any) -> tuple[Any, Any, Any]:
    """A clock, a customer with a card on it, and a monthly subscription."""
    clock = client.v1.test_helpers.test_clocks.create(
        params={"frozen_time": int(time.time()), "name": "billing"}
    )
    customer = customer_with_card(client, test_clock=clock.id)
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": recurring_price(client, 2000).id}],
            **params,
        }
    )
    return clock, customer, sub


def _advance(client: stripe.StripeClient, clock: Any, to: int) -> None:
    moved = client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": to})
    assert moved.status in ("advancing", "ready")
    assert client.v1.test_helpers.test_clocks.retrieve(clock.id).status == "ready"


def test_clock_create_retrieve_list_delete(client: stripe.StripeClient) -> None:
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": 1_800_000_000})
    assert_shape(clock)
    assert client.v1.test_helpers.test_clocks.retrieve(clock.id).frozen_time == 1_800_000_000
    listed = client.v1.test_helpers.test_clocks.list(params={"limit": 100}).data
    assert clock.id in [c.id for c in listed]
    assert client.v1.test_helpers.test_clocks.delete(clock.id).deleted
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.test_helpers.test_clocks.retrieve(clock.id)


def test_advancing_past_period_end_renews_and_pays(client: stripe.StripeClient) -> None:
    clock, customer, sub = _clocked(client)
    assert customer.test_clock == clock.id
    _advance(client, clock, sub.current_period_end + HOUR)
    renewed = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert renewed.status == "active"
    assert renewed.current_period_start == sub.current_period_end
    invoice = renewed.latest_invoice
    assert invoice.billing_reason == "subscription_cycle"
    assert invoice.status == "paid"
    assert invoice.amount_paid == 2000
    update = next(
        e
        for e in client.v1.events.list(params={"type": "customer.subscription.updated"}).data
        if e.data.object.id == sub.id
    )
    assert update.data.previous_attributes.current_period_end == sub.current_period_end
    assert "invoice.paid" in event_types(client, invoice.id)


def test_a_failing_renewal_makes_the_subscription_past_due(
    client: stripe.StripeClient,
) -> None:
    clock, customer, sub = _clocked(client)
    failing = client.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", params={"customer": customer.id}
    )
    client.v1.subscriptions.update(sub.id, params={"default_payment_method": failing.id})
    _advance(client, clock, sub.current_period_end + HOUR)
    late = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert late.status == "past_due"
    assert late.latest_invoice.status == "open"
    assert "invoice.payment_failed" in event_types(client, late.latest_invoice.id)


def test_a_trial_ends_into_a_paid_cycle(client: stripe.StripeClient) -> None:
    clock, _, sub = _clocked(client, trial_period_days=7)
    assert sub.status == "trialing"
    _advance(client, clock, sub.trial_end + HOUR)
    after = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert after.status == "active"
    assert after.latest_invoice.amount_paid == 2000
    assert after.current_period_start == sub.trial_end
    assert "customer.subscription.trial_will_end" in event_types(client, sub.id)


def test_cancel_at_period_end_is_applied(client: stripe.StripeClient) -> None:
    clock, _, sub = _clocked(client, cancel_at_period_end=True)
    _advance(client, clock, sub.current_period_end + HOUR)
    ended = client.v1.subscriptions.retrieve(sub.id)
    assert ended.status == "canceled"
    assert ended.ended_at == sub.current_period_end
    assert event_types(client, sub.id)[-1] == "customer.subscription.deleted"


def test_two_periods_in_one_advance(client: stripe.StripeClient) -> None:
    clock, customer, sub = _clocked(client)
    _advance(client, clock, sub.current_period_end + 40 * 86400)
    invoices = client.v1.invoices.list(params={"customer": customer.id}).data
    reasons = [i.billing_reason for i in invoices]
    assert reasons == ["subscription_cycle", "subscription_cycle", "subscription_create"]


def test_pending_prorations_are_billed_at_the_next_cycle(client: stripe.StripeClient) -> None:
    clock, _, sub = _clocked(client)
    dearer = recurring_price(client, 5000)
    client.v1.test_helpers.test_clocks.advance(
        clock.id, params={"frozen_time": sub.current_period_start + 10 * 86400}
    )
    item = sub["items"].data[0]
    client.v1.subscriptions.update(sub.id, params={"items": [{"id": item.id, "price": dearer.id}]})
    _advance(client, clock, sub.current_period_end + HOUR)
    cycle = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert cycle.billing_reason == "subscription_cycle"
    prorations = [line.amount for line in cycle.lines.data if line.proration]
    assert len(prorations) == 2
    assert sum(prorations) > 0
    assert cycle.amount_paid == 5000 + sum(prorations)


def test_ending_a_trial_now_bills_at_once(client: stripe.StripeClient) -> None:
    _, _, sub = _clocked(client, trial_period_days=30)
    ended = client.v1.subscriptions.update(
        sub.id, params={"trial_end": "now", "expand": ["latest_invoice"]}
    )
    assert ended.status == "active"
    assert ended.latest_invoice.amount_paid == 2000
    items = client.v1.subscription_items.list(params={"subscription": sub.id})
    assert [i.id for i in items.data] == [sub["items"].data[0].id]
