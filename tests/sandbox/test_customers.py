"""Customers: a `pm_card_*` default, a test clock, and search."""

from __future__ import annotations

import uuid

import pytest
import stripe

from tests.support.sandbox import customer_with_card


def test_a_test_card_default_becomes_one_real_payment_method(
    client: stripe.StripeClient,
) -> None:
    customer = customer_with_card(client)
    default = customer.invoice_settings.default_payment_method
    assert default.startswith("pm_")
    assert default != "pm_card_visa"
    assert client.v1.payment_methods.retrieve(default).customer == customer.id


def test_search_by_email_and_metadata(client: stripe.StripeClient) -> None:
    email = f"{uuid.uuid4().hex}@example.com"
    wanted = client.v1.customers.create(
        params={"email": email, "metadata": {"billing_user_id": "77"}}
    )
    client.v1.customers.create(params={"email": email, "metadata": {"billing_user_id": "78"}})
    found = client.v1.customers.search(
        params={"query": f"email:'{email}' AND metadata['billing_user_id']:'77'"}
    )
    assert [c.id for c in found.data] == [wanted.id]


def test_an_unknown_test_clock_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.create(params={"test_clock": "clock_missing"})


def test_missing_objects_are_worded_as_stripe_words_them(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.retrieve("cus_missing")
    assert caught.value.code == "resource_missing"
    assert caught.value.user_message == "No such customer: 'cus_missing'"
