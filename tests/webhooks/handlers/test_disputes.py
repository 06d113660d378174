"""charge.refunded and charge.dispute.created claw credits back in proportion, once per
increase, never below zero, recording what the wallet could not cover."""

from __future__ import annotations

from typing import Any

import pytest

from billing.credits.accounts import SPEND
from billing.credits.service import Transfer, post
from tests.webhooks.handlers.harness import Harness, credit_price, redelivered
from tests.webhooks.handlers.shapes import (
    NEW,
    OLD,
    SHAPES,
    charge,
    dispute,
    event,
    invoice,
    line_item,
    new_id,
    payment_intent,
)

REFUNDED, DISPUTED = "charge.refunded", "charge.dispute.created"


class Topup:
    """A paid top-up of 1000 cents for 300 credits, and its charge's refund events."""

    def __init__(self, version: str, user_id: int) -> None:
        self.version, self.user_id = version, user_id
        self.charge_id = new_id("ch")
        self.intent = payment_intent(
            version,
            amount=1000,
            amount_received=1000,
            status="succeeded",
            latest_charge=self.charge_id,
            metadata={"purpose": "topup", "user_id": str(user_id), "credits": "300"},
        )

    def paid(self) -> bytes:
        return event(self.version, "payment_intent.succeeded", self.intent)

    def refunded(self, amount_refunded: int) -> bytes:
        obj = charge(
            self.version,
            id=self.charge_id,
            amount=1000,
            amount_captured=1000,
            amount_refunded=amount_refunded,
            refunded=amount_refunded == 1000,
            payment_intent=self.intent["id"],
            metadata=self.intent["metadata"],
        )
        return event(self.version, REFUNDED, obj)

    def disputed(self, amount: int, dispute_id: str | None = None) -> bytes:
        obj = dispute(
            self.version,
            id=dispute_id or new_id("dp"),
            amount=amount,
            charge=self.charge_id,
            payment_intent=self.intent["id"],
            status="needs_response",
        )
        return event(self.version, DISPUTED, obj)


def _clawbacks(ledger: list[tuple[str, int, str]]) -> list[tuple[int, str]]:
    return [(amount, key) for kind, amount, key in ledger if kind == "refund_clawback"]


async def _settled(harness: Harness, topup: Topup) -> tuple[int, int, int, int]:
    payment = await harness.payment(topup.intent["id"])
    return (
        payment.amount_refunded,
        payment.amount_disputed,
        payment.credits_clawed_back,
        payment.credits_unrecovered,
    )


@pytest.mark.parametrize("version", SHAPES)
async def test_partial_refunds_twice_then_full_claw_back_exactly_everything(
    harness: Harness, version: str
) -> None:
    topup = Topup(version, 9101)
    await harness.run(topup.paid())
    first = topup.refunded(250)
    await harness.run(first, first, redelivered(first))
    assert await harness.balance(9101) == 225  # floor(300 * 250 / 1000) = 75 taken
    await harness.run(topup.refunded(500))
    assert await harness.balance(9101) == 150
    await harness.run(topup.refunded(1000))

    assert await harness.balance(9101) == 0
    ch = topup.charge_id
    assert _clawbacks(await harness.ledger()) == [
        (75, f"stripe:refund:{ch}:250"),
        (75, f"stripe:refund:{ch}:500"),
        (150, f"stripe:refund:{ch}:1000"),
    ]
    assert await _settled(harness, topup) == (1000, 0, 300, 0)
    assert set(await harness.statuses()) == {"processed"}
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_a_dispute_after_a_partial_refund_takes_the_rest(
    harness: Harness, version: str
) -> None:
    topup = Topup(version, 9102)
    dispute_id = new_id("dp")
    await harness.run(topup.paid(), topup.refunded(400))
    assert await harness.balance(9102) == 180
    disputed = topup.disputed(600, dispute_id)
    await harness.run(disputed, redelivered(disputed))

    assert await harness.balance(9102) == 0
    assert _clawbacks(await harness.ledger()) == [
        (120, f"stripe:refund:{topup.charge_id}:400"),
        (180, f"stripe:dispute:{dispute_id}"),
    ]
    assert await _settled(harness, topup) == (400, 600, 300, 0)
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_a_clawback_beyond_the_balance_records_the_unrecovered_rest(
    harness: Harness, version: str
) -> None:
    topup = Topup(version, 9103)
    await harness.run(topup.paid())
    async with harness.database.sessions() as session:
        await post(session, Transfer(SPEND, 9103, 250, actor="test", idempotency_key="spent"))
    await harness.run(topup.refunded(1000))

    assert await harness.balance(9103) == 0
    assert _clawbacks(await harness.ledger()) == [(50, f"stripe:refund:{topup.charge_id}:1000")]
    assert await _settled(harness, topup) == (1000, 0, 50, 250)
    # Nothing is left to claw back: a later dispute of the same charge takes nothing.
    await harness.run(topup.disputed(1000))
    assert await _settled(harness, topup) == (1000, 1000, 50, 250)
    assert len(_clawbacks(await harness.ledger())) == 1
    await harness.verify()


def _sandbox_charge(harness: Harness) -> str:
    """A real charge in the sandbox, of a customer the service does not know."""
    customer = harness.stripe.v1.customers.create(params={"payment_method": "pm_card_visa"})
    intent = harness.stripe.v1.payment_intents.create(
        params={
            "amount": 1000,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    return str(intent.latest_charge)


@pytest.mark.parametrize("version", SHAPES)
async def test_charges_and_disputes_that_are_not_ours_are_ignored(
    harness: Harness, version: str
) -> None:
    stranger = charge(
        version,
        amount=1000,
        amount_refunded=1000,
        payment_intent=new_id("pi"),
        customer=new_id("cus"),
        metadata={},
    )
    # A dispute names only its charge: the handler looks the charge up to judge it.
    unknown = dispute(version, amount=500, charge=_sandbox_charge(harness), payment_intent=None)
    await harness.run(event(version, REFUNDED, stranger), event(version, DISPUTED, unknown))
    assert await harness.statuses() == ["processed", "processed"]
    assert (await harness.ledger(), await harness.payments()) == ([], [])


@pytest.mark.parametrize("version", SHAPES)
async def test_reversed_partial_refunds_settle_the_same_total(
    harness: Harness, version: str
) -> None:
    """`amount_refunded` is cumulative: whichever arrives last, the charge's refunded
    share is settled exactly once (the split across ledger transactions may differ)."""
    topup = Topup(version, 9107)
    await harness.run(topup.paid(), topup.refunded(1000), topup.refunded(600), topup.refunded(250))
    assert await harness.balance(9107) == 0
    assert _clawbacks(await harness.ledger()) == [(300, f"stripe:refund:{topup.charge_id}:1000")]
    assert await _settled(harness, topup) == (1000, 0, 300, 0)
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_a_refund_of_ours_before_its_payment_waits_for_it(
    harness: Harness, version: str
) -> None:
    topup = Topup(version, 9104)
    await harness.run(topup.refunded(500), retry_failed=False)
    [waiting] = await harness.events()
    assert waiting.status == "failed"
    await harness.deliver(topup.paid())
    await harness.process()
    assert await harness.statuses() == ["processed", "processed"]
    assert await harness.balance(9104) == 150
    assert await _settled(harness, topup) == (500, 0, 150, 0)
    await harness.verify()


def _invoice_charge(version: str, customer: str, intent: str, refunded: int) -> dict[str, Any]:
    return charge(
        version,
        amount=2000,
        amount_refunded=refunded,
        payment_intent=intent,
        customer=customer,
        metadata={},
    )


async def test_an_invoice_refund_is_matched_through_the_invoice_payment_intent(
    harness: Harness,
) -> None:
    plan = credit_price(harness.stripe, amount=2000, credits=600, recurring=True)
    customer, intent = new_id("cus"), new_id("pi")
    await harness.link(9105, customer)
    obj = invoice(
        OLD,
        customer=customer,
        subscription=new_id("sub"),
        billing_reason="subscription_create",
        lines=[line_item(OLD, price=plan, quantity=1, amount=2000)],
        amount_paid=2000,
        payment_intent=intent,
    )
    refund = _invoice_charge(OLD, customer, intent, 1000)
    await harness.run(event(OLD, "invoice.paid", obj), event(OLD, REFUNDED, refund))
    assert await harness.balance(9105) == 300
    payment = await harness.payment(obj["id"])
    assert (payment.charge_id, payment.credits_clawed_back) == (refund["id"], 300)
    await harness.verify()


async def test_a_todays_shape_invoice_refund_is_retried_until_its_invoice_is_known(
    harness: Harness,
) -> None:
    """Today's invoices do not name their payment intent; the refund of one of our
    customers' charges is not dropped: it asks Stripe which invoice the intent paid
    (`/v1/invoice_payments`, which the sandbox lacks), and retries until it can tell."""
    plan = credit_price(harness.stripe, amount=2000, credits=600, recurring=True)
    customer = new_id("cus")
    await harness.link(9106, customer)
    obj = invoice(
        NEW,
        customer=customer,
        subscription=new_id("sub"),
        billing_reason="subscription_create",
        lines=[line_item(NEW, price=plan, quantity=1, amount=2000)],
        amount_paid=2000,
    )
    refund = _invoice_charge(NEW, customer, new_id("pi"), 2000)
    await harness.run(event(NEW, "invoice.paid", obj), event(NEW, REFUNDED, refund))
    statuses = await harness.statuses()
    assert statuses == ["processed", "failed"]
    assert await harness.balance(9106) == 600
