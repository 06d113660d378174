"""Every object the sandbox returns has at least the top-level keys of Stripe's fixture."""

from __future__ import annotations

import time

import stripe

from tests.support.sandbox import assert_shape, customer_with_card, recurring_price


def test_billing_objects_have_todays_fields(client: stripe.StripeClient) -> None:
    customer = customer_with_card(client)
    price = recurring_price(client)
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "expand": ["latest_invoice.payment_intent.latest_charge"],
        }
    )
    invoice = sub.latest_invoice
    intent = invoice.payment_intent
    item = client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 100, "currency": "usd"}
    )
    objects = [
        customer,
        client.v1.products.retrieve(price.product),
        price,
        sub,
        sub["items"].data[0],
        invoice,
        invoice.lines.data[0],
        item,
        intent,
        intent.latest_charge,
        client.v1.payment_methods.retrieve(intent.payment_method),
        client.v1.refunds.create(params={"charge": intent.latest_charge.id}),
        client.v1.events.list(params={"limit": 1}).data[0],
        client.v1.balance_transactions.retrieve(intent.latest_charge.balance_transaction),
        client.v1.setup_intents.create(params={"customer": customer.id}),
        client.v1.test_helpers.test_clocks.create(params={"frozen_time": int(time.time())}),
        client.v1.billing_portal.sessions.create(params={"customer": customer.id}),
    ]
    for obj in objects:
        assert_shape(obj)
