"""Refunds and disputes against grants: a claw-back takes from the refunded payment's own
grant first, then from the others in consumption order; it asks for no more than the
spendable grants hold (an expired grant not yet swept gives nothing), recording the
shortfall; a won dispute gives the credits back on the terms of the payment's grant."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billing.core.times import Clock, utcnow
from billing.credits.accounts import ADMIN_GRANT, PURCHASE
from billing.credits.grants import GrantTerms
from billing.credits.models import CreditGrant
from billing.credits.service import post
from billing.credits.transfers import Transfer
from billing.payments import recorded_payments
from tests.support.event_shapes import OLD, SHAPES, dispute, event, new_id, plan_invoice
from tests.support.handler_harness import Harness, credit_price
from tests.webhooks.handlers.test_disputes import REINSTATED, WITHDRAWN, Topup

CENTS, CREDITS = 1000, 300  # what a `Topup` pays, and buys


async def _grant(harness: Harness, user_id: int, amount: int, terms: GrantTerms) -> None:
    await post(harness.database, Transfer(ADMIN_GRANT, user_id, amount, actor="test", grant=terms))


def _remaining(grants: list[CreditGrant]) -> list[tuple[str, int]]:
    return [(grant.source, grant.remaining) for grant in grants]


@pytest.mark.parametrize("version", SHAPES)
async def test_a_refund_takes_from_the_payments_own_grant_not_the_promotion(
    harness: Harness, version: str
) -> None:
    """A promotion (priority 10) is what a spend takes first; a refund takes the top-up's."""
    topup = Topup(version, 48_001)
    await _grant(harness, topup.user_id, 500, GrantTerms("promotion"))
    await harness.run(topup.paid(), topup.refunded(CENTS))
    grants = await harness.grants(topup.user_id)
    assert _remaining(grants) == [("promotion", 500), ("topup", 0)]
    assert (grants[1].status, grants[1].reference) == ("depleted", topup.intent["id"])
    assert await harness.balance(topup.user_id) == 500
    await harness.verify()


async def test_what_the_own_grant_lacks_comes_from_the_others_in_consumption_order(
    harness: Harness,
) -> None:
    """Spent down to 150 of its 300, the top-up's grant gives those; the other 150 come
    from the promotion (priority 10) before the admin grant (priority 90)."""
    topup = Topup(OLD, 48_002)
    await _grant(harness, topup.user_id, 100, GrantTerms("admin", priority=0))
    await harness.run(topup.paid())
    assert await harness.spend(topup.user_id, 250)  # the admin grant's 100, then the top-up's
    await _grant(harness, topup.user_id, 400, GrantTerms("admin", priority=90))
    await _grant(harness, topup.user_id, 500, GrantTerms("promotion"))
    await harness.run(topup.refunded(CENTS))
    assert _remaining(await harness.grants(topup.user_id)) == [
        ("admin", 0),
        ("topup", 0),
        ("admin", 400),
        ("promotion", 350),
    ]
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_an_expired_grant_not_yet_swept_gives_nothing_and_never_overdraws(
    harness: Harness, version: str, clock: Clock
) -> None:
    """The wallet still holds an expired grant's 200 (no sweep ran): the refund takes the
    50 that can be spent and records 250 as unrecovered."""
    topup = Topup(version, 48_003)
    await harness.run(topup.paid())
    lapsing = GrantTerms("admin", priority=90, expires_at=utcnow() + timedelta(hours=1))
    await _grant(harness, topup.user_id, 200, lapsing)
    assert await harness.spend(topup.user_id, 250)  # all but 50 of the top-up's grant
    clock.offset = timedelta(hours=2)
    await harness.run(topup.refunded(CENTS), retry_failed=False)
    assert set(await harness.statuses()) == {"processed"}
    payment = await harness.payment(topup.intent["id"])
    assert (payment.credits_clawed_back, payment.credits_unrecovered) == (50, 250)
    assert _remaining(await harness.grants(topup.user_id)) == [("topup", 0), ("admin", 200)]
    assert await harness.balance(topup.user_id) == 0
    [(_, data)] = await harness.messages("credits.clawed_back")  # the shortfall too
    clawback = data["clawback"]
    assert (data["user_id"], data["balance"]) == (topup.user_id, 0)
    assert (clawback["payment_id"], clawback["kind"]) == (topup.intent["id"], "refund_clawback")
    assert (clawback["credits"], clawback["unrecovered"]) == (50, 250)
    assert clawback["transaction_id"] is not None
    await harness.run(topup.refunded(CENTS))  # told again by Stripe: nothing new to say
    assert len(await harness.messages("credits.clawed_back")) == 1
    await harness.verify()


def _dispute_event(charge_id: str, intent_id: str, event_type: str, dispute_id: str) -> bytes:
    status = "won" if event_type == REINSTATED else "needs_response"
    obj = dispute(
        OLD,
        id=dispute_id,
        amount=CENTS,
        charge=charge_id,
        payment_intent=intent_id,
        status=status,
    )
    return event(OLD, event_type, obj)


async def test_a_won_dispute_gives_back_on_the_terms_of_the_payments_grant(
    harness: Harness,
) -> None:
    plan = credit_price(
        harness.stripe,
        amount=CENTS,
        credits=700,
        recurring=True,
        metadata={"credits_expiry": "30d", "credits_priority": "20"},
    )
    user, customer, charge_id, intent_id = 48_004, new_id("cus"), new_id("ch"), new_id("pi")
    await harness.link(user, customer)
    paid = plan_invoice(
        OLD,
        plan,
        customer=customer,
        subscription=new_id("sub"),
        charge=charge_id,
        payment_intent=intent_id,
    )
    dispute_id = new_id("dp")
    await harness.run(
        event(OLD, "invoice.paid", paid),
        _dispute_event(charge_id, intent_id, WITHDRAWN, dispute_id),
    )
    assert await harness.balance(user) == 0
    await harness.run(_dispute_event(charge_id, intent_id, REINSTATED, dispute_id))

    original, reinstated = await harness.grants(user)
    assert (original.source, original.remaining, original.status) == ("subscription", 0, "depleted")
    terms = ("subscription", 20, original.expires_at, paid["id"])
    assert (original.source, original.priority, original.expires_at, original.reference) == terms
    assert (reinstated.source, reinstated.priority, reinstated.expires_at) == terms[:3]
    assert (reinstated.reference, reinstated.remaining) == (paid["id"], 700)
    assert await harness.balance(user) == 700
    await harness.verify()


async def test_a_dispute_of_a_payment_whose_grant_is_not_found_gives_back_a_purchase(
    harness: Harness,
) -> None:
    """A checkout credited before grants were referenced by their payment (under its
    session's id): its terms cannot be told, so the credits come back as a `purchase`."""
    user, intent_id, charge_id, dispute_id = 48_005, new_id("pi"), new_id("ch"), new_id("dp")
    payment = recorded_payments.StripePayment(
        stripe_id=intent_id,
        kind="checkout",
        user_id=user,
        amount=CENTS,
        currency="usd",
        payment_intent_id=intent_id,
    )
    async with harness.database.sessions() as session, session.begin():
        await recorded_payments.record_success(session, payment, credits=CREDITS)
    lapsing = GrantTerms("purchase", priority=70, expires_at=utcnow() + timedelta(days=9))
    credited = Transfer(PURCHASE, user, CREDITS, actor="test", reference="cs_old", grant=lapsing)
    await post(harness.database, credited)
    await harness.run(
        _dispute_event(charge_id, intent_id, WITHDRAWN, dispute_id),
        _dispute_event(charge_id, intent_id, REINSTATED, dispute_id),
    )
    _, reinstated = await harness.grants(user)
    assert (reinstated.source, reinstated.priority, reinstated.expires_at) == ("purchase", 50, None)
    assert (reinstated.remaining, reinstated.reference) == (CREDITS, intent_id)
    await harness.verify()
