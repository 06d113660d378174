"""Idempotency-Key: same key and parameters replay; other parameters are refused."""

from __future__ import annotations

import pytest
import stripe

from tests.support.sandbox_process import Sandbox


def test_same_key_same_params_returns_the_same_object(client: stripe.StripeClient) -> None:
    options = {"idempotency_key": "same-key-1"}
    params = {"email": "idem@example.com"}
    first = client.v1.customers.create(params=params, options=options)
    second = client.v1.customers.create(params=params, options=options)
    assert first.id == second.id
    assert second.last_response.headers["Idempotent-Replayed"] == "true"


def test_same_key_other_params_is_an_idempotency_error(client: stripe.StripeClient) -> None:
    options = {"idempotency_key": "same-key-2"}
    client.v1.customers.create(params={"email": "a@example.com"}, options=options)
    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.customers.create(params={"email": "b@example.com"}, options=options)
    assert caught.value.http_status == 400
    assert caught.value.error.type == "idempotency_error"


def test_without_a_key_each_request_creates(sandbox: Sandbox) -> None:
    with sandbox.http() as http:
        one = http.post("/v1/customers", data={"email": "x@example.com"}).json()
        two = http.post("/v1/customers", data={"email": "x@example.com"}).json()
    assert one["id"] != two["id"]


def test_a_replayed_card_error_is_the_same_error(client: stripe.StripeClient) -> None:
    options = {"idempotency_key": "same-key-3"}
    params = {
        "amount": 500,
        "currency": "usd",
        "payment_method": "pm_card_chargeDeclined",
        "confirm": True,
    }
    with pytest.raises(stripe.CardError) as first:
        client.v1.payment_intents.create(params=params, options=options)
    with pytest.raises(stripe.CardError) as second:
        client.v1.payment_intents.create(params=params, options=options)
    assert first.value.error.payment_intent.id == second.value.error.payment_intent.id
