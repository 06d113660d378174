"""Subscriptions with prices: payment behaviours, trials, updates, prorations, both shapes."""

from __future__ import annotations

import pytest
import stripe

from tests.support.sandbox import assert_shape, customer_with_card, event_types, recurring_price


def test_create_pays_first_invoice_and_carries_both_shapes(
    client: stripe.StripeClient,
) -> None:
    basic, extra = recurring_price(client, 1000), recurring_price(client, 250)
    customer = customer_with_card(client)
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": basic.id}, {"price": extra.id, "quantity": 2}],
            "metadata": {"billing_user_id": "42"},
            "expand": ["latest_invoice.payment_intent"],
        }
    )
    assert sub.status == "active"
    assert sub.metadata["billing_user_id"] == "42"
    assert len(sub["items"].data) == 2
    item = sub["items"].data[0]
    assert item.price.id == basic.id
    assert item.plan.id == basic.id
    assert item.current_period_end == sub.current_period_end > sub.current_period_start
    invoice = sub.latest_invoice
    assert invoice.billing_reason == "subscription_create"
    assert invoice.amount_paid == 1500
    assert invoice.subscription == sub.id
    assert invoice.parent.subscription_details.subscription == sub.id
    assert invoice.payment_intent.status == "succeeded"
    for obj in (sub, item, invoice, invoice.payment_intent, invoice.lines.data[0]):
        assert_shape(obj)
    assert event_types(client, invoice.id)[:4] == [
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]
    assert event_types(client, sub.id) == ["customer.subscription.created"]


def test_default_incomplete_returns_a_client_secret_to_confirm(
    client: stripe.StripeClient,
) -> None:
    price = recurring_price(client)
    customer = customer_with_card(client, card=None)
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "expand": ["latest_invoice.payment_intent", "latest_invoice.confirmation_secret"],
        }
    )
    assert sub.status == "incomplete"
    intent = sub.latest_invoice.payment_intent
    assert intent.status == "requires_payment_method"
    assert sub.latest_invoice.confirmation_secret.client_secret == intent.client_secret
    client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    after = client.v1.subscriptions.retrieve(sub.id)
    assert after.status == "active"
    assert after.default_payment_method is not None
    update = client.v1.events.list(params={"type": "customer.subscription.updated"}).data[0]
    assert update.data.object.id == sub.id
    assert update.data.previous_attributes.status == "incomplete"


def test_trial_starts_trialing_with_a_zero_invoice(client: stripe.StripeClient) -> None:
    price = recurring_price(client)
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer_with_card(client).id,
            "items": [{"price": price.id}],
            "trial_period_days": 14,
            "expand": ["latest_invoice"],
        }
    )
    assert sub.status == "trialing"
    assert sub.trial_end - sub.trial_start == 14 * 86400
    assert sub.current_period_end == sub.trial_end
    assert sub.latest_invoice.amount_due == 0
    assert sub.latest_invoice.status == "paid"


def test_cancel_at_period_end_and_resume_emit_previous_attributes(
    client: stripe.StripeClient,
) -> None:
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer_with_card(client).id,
            "items": [{"price": recurring_price(client).id}],
        }
    )
    ending = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert ending.cancel_at_period_end
    assert ending.cancel_at == ending.current_period_end
    client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": False})
    updates = client.v1.events.list(params={"type": "customer.subscription.updated"}).data
    mine = [e for e in updates if e.data.object.id == sub.id]
    assert mine[0].data.previous_attributes.cancel_at_period_end is True
    assert mine[1].data.previous_attributes.cancel_at_period_end is False
    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled"
    assert "customer.subscription.deleted" in event_types(client, sub.id)


def test_price_change_prorates_into_an_update_invoice(client: stripe.StripeClient) -> None:
    cheap, dear = recurring_price(client, 1000), recurring_price(client, 3000)
    sub = client.v1.subscriptions.create(
        params={"customer": customer_with_card(client).id, "items": [{"price": cheap.id}]}
    )
    item = sub["items"].data[0]
    changed = client.v1.subscriptions.update(
        sub.id,
        params={
            "items": [{"id": item.id, "price": dear.id}],
            "proration_behavior": "always_invoice",
            "expand": ["latest_invoice"],
        },
    )
    invoice = changed.latest_invoice
    assert invoice.billing_reason == "subscription_update"
    amounts = sorted(line.amount for line in invoice.lines.data)
    assert amounts[0] < 0 < amounts[1]
    assert all(line.proration for line in invoice.lines.data)
    assert invoice.status == "paid"
    assert changed["items"].data[0].price.id == dear.id


def test_error_if_incomplete_refuses_a_declined_card(client: stripe.StripeClient) -> None:
    customer = customer_with_card(client, card="pm_card_chargeDeclined")
    with pytest.raises(stripe.CardError) as caught:
        client.v1.subscriptions.create(
            params={
                "customer": customer.id,
                "items": [{"price": recurring_price(client).id}],
                "payment_behavior": "error_if_incomplete",
            }
        )
    assert caught.value.code == "card_declined"
    listed = client.v1.subscriptions.list(params={"customer": customer.id, "status": "all"})
    assert listed.data == []


def test_list_filters_by_customer_price_and_status(client: stripe.StripeClient) -> None:
    price = recurring_price(client)
    customer = customer_with_card(client)
    sub = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price.id}]}
    )
    assert [s.id for s in client.v1.subscriptions.list(params={"price": price.id}).data] == [sub.id]
    client.v1.subscriptions.cancel(sub.id)
    assert client.v1.subscriptions.list(params={"customer": customer.id}).data == []
    canceled = client.v1.subscriptions.list(params={"customer": customer.id, "status": "canceled"})
    assert [s.id for s in canceled.data] == [sub.id]


def test_one_time_prices_are_refused_on_subscriptions(client: stripe.StripeClient) -> None:
    once = client.v1.prices.create(
        params={"currency": "usd", "unit_amount": 100, "product_data": {"name": "Once"}}
    )
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.create(
            params={"customer": customer_with_card(client).id, "items": [{"price": once.id}]}
        )
