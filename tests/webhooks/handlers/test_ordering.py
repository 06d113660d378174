"""A customer's whole story as events: delivered once in order, or every event twice (and
replayed under a new id) in reverse order, it ends in the same state and the same ledger."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from billing.payments.models import Payment
from tests.support.event_shapes import (
    SHAPES,
    charge,
    checkout_item,
    checkout_session,
    dispute,
    event,
    invoice,
    line_item,
    new_id,
    payment_intent,
    subscription,
)
from tests.support.handler_harness import Harness, card_payment, credit_price, redelivered
from tests.support.sandbox import customer_with_card

PAYMENT_FIELDS = (
    "stripe_id",
    "kind",
    "status",
    "amount",
    "currency",
    "credits",
    "amount_refunded",
    "amount_disputed",
    "credits_clawed_back",
    "credits_unrecovered",
    "payment_intent_id",
    "charge_id",
    "invoice_id",
    "subscription_id",
    "failure_code",
    "failure_message",
)
SUBSCRIPTION_FIELDS = (
    "status",
    "user_id",
    "price_id",
    "quantity",
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
    "ended_at",
    "state_at",
    "created_at",
)


@dataclass
class Story:
    """One user's events, oldest first, and the names its Stripe ids stand for."""

    user_id: int
    subscription_id: str = ""
    bodies: list[bytes] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)

    def name(self, value: Any) -> Any:
        if not isinstance(value, str):
            return "user" if value == self.user_id else value
        for stripe_id, name in self.names.items():
            value = value.replace(stripe_id, name)
        return value


async def _story(harness: Harness, version: str, user_id: int, t0: int) -> Story:
    """The service made the customer (and linked it) before any of these events."""
    client = harness.stripe
    plan = credit_price(client, amount=1000, credits=500, recurring=True)
    pack = credit_price(client, amount=200, credits=100)
    customer = customer_with_card(client)
    await harness.link(user_id, customer.id)
    sub = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": plan["id"]}]}
    )
    topup_metadata = {
        "billing_purpose": "topup",
        "billing_user_id": str(user_id),
        "billing_credits": "300",
    }
    topup = card_payment(client, customer.id, metadata=topup_metadata)
    story = Story(user_id, sub.id)
    ids = {
        "plan": plan["id"],
        "pack": pack["id"],
        "customer": customer.id,
        "sub": sub.id,
        "topup": topup.id,
        "topup_charge": str(topup.latest_charge),
        "checkout": new_id("cs_test"),
        "checkout_pi": new_id("pi"),
        "dispute": new_id("dp"),
        **{name: new_id("in") for name in ("inv1", "inv2", "inv3")},
        **{name: new_id("pi") for name in ("inv1_pi", "inv2_pi")},
    }
    story.names = {stripe_id: name for name, stripe_id in ids.items()}
    period1, period2 = (t0, t0 + 30 * 86400), (t0 + 30 * 86400, t0 + 60 * 86400)

    def sub_state(status: str, period: tuple[int, int], ended: int | None = None) -> dict[str, Any]:
        return subscription(
            version,
            subscription_id=sub.id,
            customer=customer.id,
            price=plan,
            status=status,
            period=period,
            ended_at=ended,
            created=t0,
        )

    def bill(name: str, reason: str, status: str = "paid") -> dict[str, Any]:
        return invoice(
            version,
            invoice_id=ids[name],
            customer=customer.id,
            subscription=sub.id,
            billing_reason=reason,
            lines=[line_item(version, price=plan, quantity=1, amount=1000)],
            amount_paid=1000 if status == "paid" else 0,
            amount_due=1000,
            status=status,
            payment_intent=ids.get(f"{name}_pi"),
        )

    session = checkout_session(
        version,
        id=ids["checkout"],
        mode="payment",
        payment_status="paid",
        metadata={"billing_user_id": str(user_id)},
        customer=customer.id,
        payment_intent=ids["checkout_pi"],
        amount_total=400,
        line_items={
            "object": "list",
            "data": [checkout_item(version, price=pack, quantity=2)],
            "has_more": False,
        },
    )
    topup_intent = payment_intent(
        version,
        id=topup.id,
        amount=1000,
        amount_received=1000,
        status="succeeded",
        customer=customer.id,
        latest_charge=ids["topup_charge"],
        metadata=topup_metadata,
    )
    refund = charge(
        version,
        id=ids["topup_charge"],
        amount=1000,
        amount_refunded=250,
        payment_intent=topup.id,
        customer=customer.id,
        metadata=topup_metadata,
    )
    chargeback = dispute(
        version,
        id=ids["dispute"],
        amount=750,
        charge=ids["topup_charge"],
        payment_intent=topup.id,
        status="needs_response",  # a chargeback: the funds went (not an inquiry)
    )
    timeline: list[tuple[str, dict[str, Any]]] = [
        ("customer.subscription.created", sub_state("active", period1)),
        (
            "checkout.session.completed",
            checkout_session(
                version,
                mode="subscription",
                payment_status="paid",
                metadata={"billing_user_id": str(user_id)},
                customer=customer.id,
                subscription=sub.id,
                payment_intent=None,
            ),
        ),
        ("invoice.paid", bill("inv1", "subscription_create")),
        ("invoice.payment_succeeded", bill("inv1", "subscription_create")),
        ("checkout.session.completed", session),
        ("payment_intent.succeeded", topup_intent),
        (
            "payment_intent.succeeded",  # the checkout's own intent: credited by its session
            payment_intent(
                version,
                id=ids["checkout_pi"],
                amount=400,
                metadata={"billing_user_id": str(user_id)},
            ),
        ),
        ("charge.refunded", refund),
        ("charge.dispute.created", chargeback),
        ("customer.subscription.updated", sub_state("active", period2)),
        ("invoice.paid", bill("inv2", "subscription_cycle")),
        ("invoice.payment_succeeded", bill("inv2", "subscription_cycle")),
        ("invoice.payment_failed", bill("inv3", "subscription_cycle", status="open")),
        ("customer.subscription.updated", sub_state("past_due", period2)),
        ("customer.subscription.deleted", sub_state("canceled", period2, ended=t0 + 14)),
    ]
    story.bodies = [
        event(version, event_type, obj, created=t0 + i)
        for i, (event_type, obj) in enumerate(timeline)
    ]
    return story


async def _outcome(harness: Harness, story: Story) -> dict[str, Any]:
    """Everything the story left behind, with its ids replaced by their names."""
    payments: list[Payment] = [p for p in await harness.payments() if p.user_id == story.user_id]
    row = await harness.subscription(story.subscription_id)
    assert row is not None
    return {
        "balance": await harness.balance(story.user_id),
        "ledger": sorted(
            (kind, amount, story.name(key))
            for kind, amount, key in await harness.ledger(story.user_id)
        ),
        "payments": sorted(
            tuple(story.name(getattr(p, name)) for name in PAYMENT_FIELDS) for p in payments
        ),
        "subscription": {name: story.name(getattr(row, name)) for name in SUBSCRIPTION_FIELDS},
    }


@pytest.mark.parametrize("version", SHAPES)
async def test_twice_and_reversed_ends_like_once_in_order(harness: Harness, version: str) -> None:
    t0 = int(time.time()) - 3600
    in_order = await _story(harness, version, 9201, t0)
    reversed_twice = await _story(harness, version, 9202, t0)

    await harness.run(*in_order.bodies)
    assert set(await harness.statuses()) == {"processed"}
    expected = await _outcome(harness, in_order)

    for body in reversed(reversed_twice.bodies):
        await harness.deliver(body, body, redelivered(body))
    await harness.process(rounds=8)
    assert set(await harness.statuses()) == {"processed"}
    assert await _outcome(harness, reversed_twice) == expected

    # 500 + 500 (two paid invoices) + 200 (checkout) + 300 (top-up) - 75 - 225 (refund, dispute)
    assert expected["balance"] == 1200
    assert expected["ledger"] == sorted(
        [
            ("subscription_grant", 500, "stripe:invoice:inv1"),
            ("subscription_grant", 500, "stripe:invoice:inv2"),
            ("purchase", 200, "stripe:checkout:checkout"),
            ("purchase", 300, "stripe:payment_intent:topup"),
            ("refund_clawback", 75, "stripe:refund:topup_charge:250"),
            ("refund_clawback", 225, "stripe:dispute:dispute"),
        ]
    )
    assert expected["subscription"]["status"] == "canceled"
    assert [p[:3] for p in expected["payments"]] == [
        ("checkout_pi", "checkout", "succeeded"),
        ("inv1", "invoice", "succeeded"),
        ("inv2", "invoice", "succeeded"),
        ("inv3", "invoice", "failed"),
        ("topup", "topup", "succeeded"),
    ]
    await harness.verify()
