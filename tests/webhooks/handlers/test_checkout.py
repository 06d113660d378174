"""Checkout events: payment mode buys credits once; subscription mode links and mirrors."""

from __future__ import annotations

from typing import Any

import pytest

from billing.payments.customers import user_for_customer
from tests.webhooks.handlers.harness import Harness, credit_price, redelivered
from tests.webhooks.handlers.shapes import SHAPES, checkout_item, checkout_session, event, new_id

COMPLETED = "checkout.session.completed"
ASYNC_SUCCEEDED = "checkout.session.async_payment_succeeded"


def _sandbox_session(harness: Harness, items: list[tuple[dict[str, Any], int]]) -> str:
    """A payment-mode session in the sandbox, so its line items can be listed."""
    session = harness.stripe.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": price["id"], "quantity": qty} for price, qty in items],
            "success_url": "https://billing.test/done",
            "cancel_url": "https://billing.test/cancel",
        }
    )
    return str(session.id)


def _customer(harness: Harness) -> str:
    return str(harness.stripe.v1.customers.create(params={"email": "c@example.com"}).id)


@pytest.mark.parametrize("version", SHAPES)
async def test_paid_payment_checkout_credits_its_line_items_once(
    harness: Harness, version: str
) -> None:
    credited = credit_price(harness.stripe, amount=500, credits=150)
    plain = credit_price(harness.stripe, amount=300, credits=None)  # grants nothing
    session_id = _sandbox_session(harness, [(credited, 2), (plain, 1)])
    customer, intent = _customer(harness), new_id("pi")
    obj = checkout_session(
        version,
        id=session_id,
        mode="payment",
        payment_status="paid",
        client_reference_id="7001",
        metadata={"user_id": "7001"},
        customer=customer,
        payment_intent=intent,
        amount_total=1300,
    )
    body = event(version, COMPLETED, obj)
    # Delivered twice (deduplicated by the inbox), replayed under a new event id, and
    # followed by the async-success event of the same session: credited once.
    await harness.run(body, body, redelivered(body), event(version, ASYNC_SUCCEEDED, obj))

    assert await harness.statuses() == ["processed"] * 3
    assert await harness.balance(7001) == 300
    assert await harness.ledger() == [("purchase", 300, f"stripe:checkout:{session_id}")]
    payment = await harness.payment(intent)
    assert (payment.kind, payment.status, payment.user_id) == ("checkout", "succeeded", 7001)
    assert (payment.amount, payment.currency, payment.credits) == (1300, "usd", 300)
    assert payment.payment_intent_id == intent
    async with harness.database.sessions() as session:
        assert await user_for_customer(session, customer) == 7001
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_line_items_in_the_payload_are_used_without_asking_stripe(
    harness: Harness, version: str
) -> None:
    price = credit_price(harness.stripe, amount=200, credits=25)
    items = {"object": "list", "data": [checkout_item(version, price=price, quantity=4)]}
    # The session id is unknown to the sandbox: listing its line items would fail.
    obj = checkout_session(
        version,
        mode="payment",
        payment_status="paid",
        client_reference_id=None,
        metadata={"user_id": "7002"},
        customer=None,
        payment_intent=None,
        amount_total=800,
        line_items={**items, "has_more": False},
    )
    await harness.run(event(version, COMPLETED, obj), retry_failed=False)
    assert await harness.statuses() == ["processed"]
    assert await harness.balance(7002) == 100
    payment = await harness.payment(obj["id"])  # no payment intent: keyed by the session
    assert (payment.kind, payment.credits, payment.payment_intent_id) == ("checkout", 100, None)
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_an_unpaid_completion_waits_for_the_async_payment(
    harness: Harness, version: str
) -> None:
    price = credit_price(harness.stripe, amount=1000, credits=70)
    session_id = _sandbox_session(harness, [(price, 1)])
    fields: dict[str, Any] = {
        "id": session_id,
        "mode": "payment",
        "client_reference_id": "7003",
        "customer": None,
        "payment_intent": new_id("pi"),
        "amount_total": 1000,
    }
    pending = checkout_session(version, payment_status="unpaid", **fields)
    await harness.run(event(version, COMPLETED, pending))
    assert (await harness.balance(7003), await harness.payments()) == (0, [])

    paid = checkout_session(version, payment_status="paid", **fields)
    await harness.run(event(version, ASYNC_SUCCEEDED, paid))
    assert await harness.balance(7003) == 70
    assert [p.stripe_id for p in await harness.payments()] == [fields["payment_intent"]]
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_subscription_checkout_links_the_customer_and_mirrors_without_credits(
    harness: Harness, version: str
) -> None:
    price = credit_price(harness.stripe, amount=1000, credits=1000, recurring=True)
    customer = harness.stripe.v1.customers.create(
        params={
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    created = harness.stripe.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price["id"]}]}
    )
    obj = checkout_session(
        version,
        mode="subscription",
        payment_status="paid",
        client_reference_id="7004",
        customer=customer.id,
        subscription=created.id,
        payment_intent=None,
        amount_total=1000,
    )
    await harness.run(event(version, COMPLETED, obj))

    row = await harness.subscription(created.id)
    assert row is not None
    assert (row.status, row.user_id, row.price_id) == ("active", 7004, price["id"])
    async with harness.database.sessions() as session:
        assert await user_for_customer(session, customer.id) == 7004
    assert (await harness.ledger(), await harness.payments()) == ([], [])  # invoices grant


@pytest.mark.parametrize("version", SHAPES)
async def test_a_session_without_a_user_is_not_ours(harness: Harness, version: str) -> None:
    obj = checkout_session(
        version,
        mode="payment",
        payment_status="paid",
        client_reference_id=None,
        metadata={},
        customer=None,
        payment_intent=new_id("pi"),
        amount_total=500,
    )
    await harness.run(event(version, COMPLETED, obj))
    assert await harness.statuses() == ["processed"]
    assert (await harness.ledger(), await harness.payments()) == ([], [])
