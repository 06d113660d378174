"""Stripe's test cards: success, declines on charge (not on attach), 3D Secure."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.support.sandbox import assert_shape


def _card(client: stripe.StripeClient, number: str) -> Any:
    return client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )


def _pay(client: stripe.StripeClient, method: str, **extra: Any) -> Any:
    return client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "payment_method": method,
            "confirm": True,
            **extra,
        }
    )


def test_4242_succeeds_with_a_charge(client: stripe.StripeClient) -> None:
    method = _card(client, "4242424242424242")
    assert method.card.last4 == "4242"
    assert method.card.brand == "visa"
    intent = _pay(client, method.id, expand=["latest_charge"], metadata={"billing_user_id": "7"})
    assert intent.status == "succeeded"
    assert intent.latest_charge.metadata.to_dict() == {
        "billing_user_id": "7"
    }  # inherited, as on Stripe
    assert intent.amount_received == 2000
    assert intent.latest_charge.paid
    assert intent.latest_charge.amount_captured == 2000
    for obj in (method, intent, intent.latest_charge):
        assert_shape(obj)
    charge_id = intent.latest_charge.id
    assert client.v1.payment_intents.retrieve(intent.id).latest_charge == charge_id


@pytest.mark.parametrize(
    ("number", "code", "decline_code"),
    [
        ("4000000000000002", "card_declined", "generic_decline"),
        ("4000000000009995", "card_declined", "insufficient_funds"),
        ("4000000000009987", "card_declined", "lost_card"),
        ("4000000000000069", "expired_card", None),
        ("4000000000000127", "incorrect_cvc", None),
        ("4000000000000119", "processing_error", None),
    ],
)
def test_declines_happen_on_charge(
    client: stripe.StripeClient, number: str, code: str, decline_code: str | None
) -> None:
    customer = client.v1.customers.create(params={"email": "decline@example.com"})
    method = _card(client, number)
    client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
    with pytest.raises(stripe.CardError) as caught:
        _pay(client, method.id, customer=customer.id)
    error = caught.value.error
    assert (error.type, error.code, error.decline_code) == ("card_error", code, decline_code)
    intent = client.v1.payment_intents.retrieve(error.payment_intent.id)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == code


def test_0341_attaches_but_every_charge_fails(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"email": "0341@example.com"})
    method = _card(client, "4000000000000341")
    attached = client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
    assert attached.customer == customer.id
    for _ in range(2):
        with pytest.raises(stripe.CardError):
            _pay(client, method.id, customer=customer.id)


def test_3155_requires_authentication(client: stripe.StripeClient) -> None:
    intent = _pay(client, _card(client, "4000002500003155").id)
    assert intent.status == "requires_action"
    assert intent.next_action.type == "use_stripe_sdk"


def test_an_invalid_number_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as caught:
        _card(client, "4242424242424241")
    assert caught.value.code == "incorrect_number"


@pytest.mark.parametrize(
    ("method", "status", "code"),
    [
        ("pm_card_visa", "succeeded", None),
        ("pm_card_mastercard", "succeeded", None),
        ("pm_card_amex", "succeeded", None),
        ("pm_card_chargeDeclined", None, "card_declined"),
        ("pm_card_chargeDeclinedInsufficientFunds", None, "card_declined"),
        ("pm_card_chargeCustomerFail", None, "card_declined"),
        ("pm_card_authenticationRequired", "requires_action", None),
    ],
)
def test_pm_card_ids(
    client: stripe.StripeClient, method: str, status: str | None, code: str | None
) -> None:
    if code:
        with pytest.raises(stripe.CardError) as caught:
            _pay(client, method)
        assert caught.value.code == code
    else:
        assert _pay(client, method).status == status


def test_refund_emits_charge_refunded(client: stripe.StripeClient) -> None:
    intent = _pay(client, "pm_card_visa")
    refund = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 500})
    assert refund.amount == 500
    assert refund.status == "succeeded"
    assert_shape(refund)
    event = client.v1.events.list(params={"type": "charge.refunded", "limit": 1}).data[0]
    assert event.data.object.id == intent.latest_charge
    assert event.data.object.amount_refunded == 500
    succeeded = client.v1.events.list(params={"type": "charge.succeeded", "limit": 5}).data
    assert intent.latest_charge in [e.data.object.id for e in succeeded]


def _saved(client: stripe.StripeClient, method: str) -> tuple[Any, str]:
    """A customer and the card a payment with `setup_future_usage` kept for them."""
    customer = client.v1.customers.create(params={"email": "saver@example.com"})
    intent = _pay(client, "pm_card_visa", customer=customer.id, setup_future_usage="off_session")
    kept = client.v1.payment_methods.retrieve(intent.payment_method)
    assert kept.customer == customer.id
    pm = client.v1.payment_methods.retrieve(method)
    client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    return customer, pm.id


def test_off_session_a_card_needing_authentication_fails_as_stripes_do(
    client: stripe.StripeClient,
) -> None:
    customer, method = _saved(client, "pm_card_authenticationRequired")
    with pytest.raises(stripe.CardError) as caught:
        _pay(client, method, customer=customer.id, off_session=True)
    assert caught.value.code == "authentication_required"
    intent = client.v1.payment_intents.retrieve(caught.value.error.payment_intent.id)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.decline_code == "authentication_required"
    assert client.v1.charges.retrieve(intent.latest_charge).status == "failed"
    assert _pay(client, method, customer=customer.id).status == "requires_action"  # on-session


@pytest.mark.parametrize(
    ("method", "code"), [("pm_card_visa", None), ("pm_card_chargeDeclined", "card_declined")]
)
def test_off_session_saved_cards_pay_or_decline(
    client: stripe.StripeClient, method: str, code: str | None
) -> None:
    customer, saved = _saved(client, method)
    if code is None:
        assert _pay(client, saved, customer=customer.id, off_session=True).status == "succeeded"
        return
    with pytest.raises(stripe.CardError) as caught:
        _pay(client, saved, customer=customer.id, off_session=True)
    assert caught.value.code == code
