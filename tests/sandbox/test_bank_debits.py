"""Bank debits (`sepa_debit`, `us_bank_account`): processing first, then paid or returned as
Stripe's test accounts say, after a delay or at the test clock's advance; and Checkout's
`payment_pages`, which the Stripe CLI confirms sessions through."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import stripe

from tests.support.sandbox import assert_shape, event_types, fixture_keys, recurring_price, wait_for
from tests.support.sandbox_process import Sandbox

SEPA_PAID = {"type": "sepa_debit", "sepa_debit": {"iban": "AT611904300234573201"}}
SEPA_RETURNED = {"type": "sepa_debit", "sepa_debit": {"iban": "AT861904300235473202"}}
ACH_PAID = {"routing_number": "110000000", "account_number": "000123456789"}
# The keys of Stripe's schemas payment_method_sepa_debit / _us_bank_account (spec3.yaml).
METHOD_KEYS = {
    "sepa_debit": {"bank_code", "branch_code", "country", "fingerprint", "generated_from", "last4"},
    "us_bank_account": {
        "account_holder_type",
        "account_type",
        "bank_name",
        "financial_connections_account",
        "fingerprint",
        "last4",
        "networks",
        "routing_number",
        "status_details",
    },
}
BILLING = {"name": "Jenny Rosen", "email": "jenny@example.com"}


def ach(account: str) -> dict[str, Any]:
    return {"type": "us_bank_account", "us_bank_account": {**ACH_PAID, "account_number": account}}


def debit(client: stripe.StripeClient, method: dict[str, Any], **params: Any) -> Any:
    """A PaymentIntent confirmed with a new bank-account method of `method`'s kind."""
    pm = client.v1.payment_methods.create(params={**method, "billing_details": BILLING})
    currency = "eur" if method["type"] == "sepa_debit" else "usd"
    return client.v1.payment_intents.create(
        params={
            "amount": 3000,
            "currency": currency,
            "payment_method_types": [method["type"]],
            "payment_method": pm.id,
            "confirm": True,
            **params,
        }
    )


def settled(client: stripe.StripeClient, intent: Any) -> Any:
    """The intent once the bank has answered."""
    return wait_for(
        lambda: (
            (found := client.v1.payment_intents.retrieve(intent.id)).status != "processing"
            and found
        )
    )


@pytest.mark.parametrize("method", [SEPA_PAID, ach("000123456789")], ids=["sepa", "ach"])
def test_a_debit_processes_then_succeeds(client: stripe.StripeClient, method: Any) -> None:
    intent = debit(client, method)
    assert intent.status == "processing"
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert charge.status == "pending"
    done = settled(client, intent)
    assert done.status == "succeeded"
    assert done.amount_received == 3000
    charge = client.v1.charges.retrieve(done.latest_charge)
    assert charge.status == "succeeded"
    assert charge.paid
    details = charge.payment_method_details
    assert details.type == method["type"]
    assert details[method["type"]]["last4"]
    pm = client.v1.payment_methods.retrieve(done.payment_method)
    assert fixture_keys("payment_method") - {"card"} <= set(pm.to_dict())
    assert set(pm[method["type"]].to_dict()) == METHOD_KEYS[method["type"]]
    for obj in (done, charge):
        assert_shape(obj)
    types = event_types(client, intent.id)
    assert types.index("payment_intent.processing") < types.index("payment_intent.succeeded")


@pytest.mark.parametrize(
    ("method", "code"),
    [
        (SEPA_RETURNED, "insufficient_funds"),
        (ach("000111111113"), "account_closed"),
        (ach("000111111116"), "no_account"),
        (ach("000222222227"), "insufficient_funds"),
        (ach("000333333335"), "debit_not_authorized"),
    ],
)
def test_a_returned_debit_fails_later(client: stripe.StripeClient, method: Any, code: str) -> None:
    intent = debit(client, method)
    assert intent.status == "processing"
    done = settled(client, intent)
    assert done.status == "requires_payment_method"
    assert done.last_payment_error.code == code
    assert client.v1.charges.retrieve(done.latest_charge).failure_code == code
    assert "payment_intent.payment_failed" in event_types(client, intent.id)


def test_a_disputing_iban_is_paid_then_disputed(client: stripe.StripeClient) -> None:
    iban = {"type": "sepa_debit", "sepa_debit": {"iban": "AT591904300235473203"}}
    done = settled(client, debit(client, iban))
    assert done.status == "succeeded"
    [dispute] = client.v1.disputes.list(params={"payment_intent": done.id}).data
    assert dispute.status == "needs_response"


@pytest.mark.parametrize(
    ("method", "param"),
    [
        ({"type": "sepa_debit", "sepa_debit": {"iban": "AT611904300234573209"}}, "iban"),
        ({"type": "us_bank_account", "us_bank_account": {**ACH_PAID, "routing_number": "1"}}, ""),
        ({"type": "ideal", "ideal": {}}, "type"),
    ],
)
def test_bad_accounts_are_refused(client: stripe.StripeClient, method: Any, param: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_methods.create(params=method)
    assert param in str(refused.value.param)


def test_a_debit_needs_its_currency_and_an_allowed_type(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError, match="currency"):
        debit(client, SEPA_PAID, currency="usd")
    with pytest.raises(stripe.InvalidRequestError, match="not allowed"):
        debit(client, SEPA_PAID, payment_method_types=["card"])


def test_on_a_test_clock_the_bank_answers_at_the_advance(client: stripe.StripeClient) -> None:
    now = int(time.time())
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": now})
    customer = client.v1.customers.create(params={"test_clock": clock.id})
    intent = debit(client, SEPA_PAID, customer=customer.id)
    time.sleep(1)  # twice the sandbox's delay: only the clock moves this debit
    assert client.v1.payment_intents.retrieve(intent.id).status == "processing"
    client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": now + 86400})
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_a_debit_pending_at_a_restart_is_answered_after_it(
    make_sandbox: Any, tmp_path: Path
) -> None:
    first = make_sandbox("--async-payment-delay", "60", data_dir=tmp_path / "kept")
    intent = debit(first.client, SEPA_PAID)
    first.process.terminate()
    first.process.wait(timeout=10)
    second = make_sandbox("--async-payment-delay", "0.2", data_dir=tmp_path / "kept")
    assert settled(second.client, intent).status == "succeeded"


def _page_session(client: stripe.StripeClient, currency: str = "eur", **params: Any) -> Any:
    price = client.v1.prices.create(
        params={"currency": currency, "unit_amount": 1500, "product_data": {"name": "Credits"}}
    )
    return client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": price.id, "quantity": 2}],
            "success_url": "https://app.example/done",
            **params,
        }
    )


def _confirm(sandbox: Sandbox, session: Any, method: str, amount: int = 3000) -> Any:
    with sandbox.http() as http:
        return http.post(
            f"/v1/payment_pages/{session.id}/confirm",
            data={"payment_method": method, "expected_amount": amount},
        )


def test_a_payment_page_pays_with_a_card_token(sandbox: Sandbox) -> None:
    client = sandbox.client
    session = _page_session(client, "usd")
    assert session.payment_method_types == ["card", "us_bank_account"]
    with sandbox.http() as http:
        page = http.get(f"/v1/payment_pages/{session.id}").json()
    assert page["line_item_group"]["total"] == 3000
    card = {"type": "card", "card": {"token": "tok_visa"}, "billing_details": BILLING}
    pm = client.v1.payment_methods.create(params=card)
    assert pm.card.last4 == "4242"
    assert _confirm(sandbox, session, pm.id, amount=2999).status_code == 400
    reply = _confirm(sandbox, session, pm.id)
    assert reply.status_code == 200, reply.text
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert (done.status, done.payment_status) == ("complete", "paid")
    assert _confirm(sandbox, session, pm.id).status_code == 400  # paid once only


def test_a_payment_page_with_sepa_completes_unpaid_then_pays(sandbox: Sandbox) -> None:
    client = sandbox.client
    session = _page_session(client, payment_intent_data={"setup_future_usage": "off_session"})
    pm = client.v1.payment_methods.create(params={**SEPA_PAID, "billing_details": BILLING})
    assert _confirm(sandbox, session, pm.id).status_code == 200
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert (done.status, done.payment_status) == ("complete", "unpaid")
    assert done.customer
    assert client.v1.payment_methods.retrieve(pm.id).customer == done.customer
    wait_for(lambda: client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid")
    assert "checkout.session.async_payment_succeeded" in event_types(client, session.id)


def test_a_subscription_page_subscribes_with_a_card(sandbox: Sandbox) -> None:
    client = sandbox.client
    price = recurring_price(client, amount=3000)
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": price.id}],
            "success_url": "https://app.example/done",
        }
    )
    pm = client.v1.payment_methods.create(
        params={"type": "card", "card": {"token": "tok_mastercard"}, "billing_details": BILLING}
    )
    assert _confirm(sandbox, session, pm.id).status_code == 200
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert done.status == "complete"
    assert client.v1.subscriptions.retrieve(done.subscription).status == "active"


def test_a_declined_token_is_refused_as_a_card_error(sandbox: Sandbox) -> None:
    session = _page_session(sandbox.client, "usd")
    pm = sandbox.client.v1.payment_methods.create(
        params={"type": "card", "card": {"token": "tok_chargeDeclined"}}
    )
    reply = _confirm(sandbox, session, pm.id)
    assert reply.status_code == 402
    assert reply.json()["error"]["code"] == "card_declined"
    with pytest.raises(stripe.InvalidRequestError, match="No such token"):
        sandbox.client.v1.payment_methods.create(
            params={"type": "card", "card": {"token": "tok_nope"}}
        )


def test_a_subscription_page_with_sepa_activates_when_the_bank_pays(sandbox: Sandbox) -> None:
    client = sandbox.client
    price = client.v1.prices.create(
        params={
            "currency": "eur",
            "unit_amount": 3000,
            "recurring": {"interval": "month"},
            "product_data": {"name": "Plan"},
        }
    )
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": price.id}],
            "success_url": "https://app.example/done",
        }
    )
    pm = client.v1.payment_methods.create(params={**SEPA_PAID, "billing_details": BILLING})
    assert _confirm(sandbox, session, pm.id).status_code == 200
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert (done.status, done.payment_status) == ("complete", "unpaid")
    assert client.v1.subscriptions.retrieve(done.subscription).status == "incomplete"
    wait_for(lambda: client.v1.subscriptions.retrieve(done.subscription).status == "active")
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"
    assert "checkout.session.async_payment_succeeded" in event_types(client, session.id)
