"""charge.refunded and the disputes' events claw credits back in proportion, once per
increase (once per dispute), never below zero, recording what the wallet could not cover;
a won dispute gives back exactly what its claw-back took. Inquiries move nothing."""

from __future__ import annotations

from typing import Any

import pytest

from billing.credits.accounts import SPEND
from billing.credits.service import post
from billing.credits.transfers import Transfer
from billing.payments import recorded_payments
from billing.payments.clawback import claw_back
from tests.support.audit import entries as audit_entries
from tests.support.event_shapes import (
    NEW,
    OLD,
    SHAPES,
    charge,
    dispute,
    event,
    new_id,
    payment_intent,
    plan_invoice,
)
from tests.support.handler_harness import Harness, card_payment, credit_price, redelivered
from tests.support.sandbox import customer_with_card

REFUNDED, DISPUTED = "charge.refunded", "charge.dispute.created"
UPDATED, CLOSED = "charge.dispute.updated", "charge.dispute.closed"
WITHDRAWN, REINSTATED = "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated"


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
            metadata={
                "billing_purpose": "topup",
                "billing_user_id": str(user_id),
                "billing_credits": "300",
            },
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
        return self.dispute_event(DISPUTED, "needs_response", dispute_id or new_id("dp"), amount)

    def dispute_event(
        self, event_type: str, status: str, dispute_id: str, amount: int = 1000
    ) -> bytes:
        """An event of the dispute `dispute_id` of this top-up's charge, in `status`."""
        obj = dispute(
            self.version,
            id=dispute_id,
            amount=amount,
            charge=self.charge_id,
            payment_intent=self.intent["id"],
            status=status,
        )
        return event(self.version, event_type, obj)


Outcome = tuple[int, list[tuple[int, str]], tuple[int, int, int, int]]


async def _outcome(harness: Harness, topup: Topup) -> Outcome:
    """What a top-up's refunds and disputes came to, the ledger checked sound: (wallet
    balance, clawback transactions as (amount, key), the payment's refunded, disputed,
    clawed back and unrecovered totals)."""
    await harness.verify()
    ledger = await harness.ledger()
    clawbacks = [(amount, key) for kind, amount, key in ledger if kind == "refund_clawback"]
    payment = await harness.payment(topup.intent["id"])
    settled = (
        payment.amount_refunded,
        payment.amount_disputed,
        payment.credits_clawed_back,
        payment.credits_unrecovered,
    )
    return await harness.balance(topup.user_id), clawbacks, settled


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

    ch = topup.charge_id
    clawbacks = [
        (75, f"stripe:refund:{ch}:250"),
        (75, f"stripe:refund:{ch}:500"),
        (150, f"stripe:refund:{ch}:1000"),
    ]
    assert await _outcome(harness, topup) == (0, clawbacks, (1000, 0, 300, 0))
    assert set(await harness.statuses()) == {"processed"}


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

    clawbacks = [
        (120, f"stripe:refund:{topup.charge_id}:400"),
        (180, f"stripe:dispute:{dispute_id}"),
    ]
    assert await _outcome(harness, topup) == (0, clawbacks, (400, 600, 300, 0))


@pytest.mark.parametrize("version", SHAPES)
async def test_a_clawback_beyond_the_balance_records_the_unrecovered_rest(
    harness: Harness, version: str
) -> None:
    topup = Topup(version, 9103)
    await harness.run(topup.paid())
    await post(harness.database, Transfer(SPEND, 9103, 250, actor="test", idempotency_key="spent"))
    await harness.run(topup.refunded(1000))

    clawbacks = [(50, f"stripe:refund:{topup.charge_id}:1000")]
    assert await _outcome(harness, topup) == (0, clawbacks, (1000, 0, 50, 250))
    # Nothing is left to claw back: a later dispute of the same charge takes nothing.
    await harness.run(topup.disputed(1000))
    assert await _outcome(harness, topup) == (0, clawbacks, (1000, 1000, 50, 250))


async def _dispute_ledger(harness: Harness, user_id: int) -> list[tuple[str, int, str]]:
    """The user's ledger less the purchase: clawbacks and reinstatements, oldest first."""
    return [row for row in await harness.ledger(user_id) if row[0] != "purchase"]


def _keys(dispute_id: str) -> tuple[str, str]:
    return f"stripe:dispute:{dispute_id}", f"stripe:dispute_reinstated:{dispute_id}"


@pytest.mark.parametrize("version", SHAPES)
async def test_an_inquiry_moves_no_credits(harness: Harness, version: str) -> None:
    """An inquiry (`warning_*`) is a question from the bank: no money moved, so nothing
    is clawed back, from its opening to its closing."""
    topup = Topup(version, 9111)
    inquiry = new_id("dp")
    await harness.run(
        topup.paid(),
        topup.dispute_event(DISPUTED, "warning_needs_response", inquiry),
        topup.dispute_event(UPDATED, "warning_under_review", inquiry),
        topup.dispute_event(CLOSED, "warning_closed", inquiry),
    )
    assert await harness.statuses() == ["processed"] * 4
    assert await _outcome(harness, topup) == (300, [], (0, 0, 0, 0))


@pytest.mark.parametrize("version", SHAPES)
@pytest.mark.parametrize("escalation", ["same_dispute", "new_dispute"])
async def test_an_inquiry_that_becomes_a_dispute_claws_back_then(
    harness: Harness, version: str, escalation: str
) -> None:
    """Either the inquiry's own status moves to `needs_response`, or it closes and the
    bank opens a chargeback, a new dispute: the claw-back happens then."""
    topup = Topup(version, 9112)
    inquiry = new_id("dp")
    await harness.run(
        topup.paid(), topup.dispute_event(DISPUTED, "warning_needs_response", inquiry)
    )
    assert await harness.balance(9112) == 300
    if escalation == "same_dispute":
        chargeback, news = inquiry, [topup.dispute_event(UPDATED, "needs_response", inquiry)]
    else:
        chargeback = new_id("dp")
        news = [
            topup.dispute_event(CLOSED, "warning_closed", inquiry),
            topup.dispute_event(DISPUTED, "needs_response", chargeback),
        ]
    await harness.run(*news)
    clawbacks = [(300, f"stripe:dispute:{chargeback}")]
    assert await _outcome(harness, topup) == (0, clawbacks, (0, 1000, 300, 0))
    assert set(await harness.statuses()) == {"processed"}


WITHDRAWAL_NEWS = (
    (DISPUTED, "needs_response"),
    (UPDATED, "under_review"),
    (WITHDRAWN, "needs_response"),
    (CLOSED, "lost"),
)


@pytest.mark.parametrize("version", SHAPES)
@pytest.mark.parametrize("first", range(len(WITHDRAWAL_NEWS)))
async def test_a_dispute_claws_back_once_whichever_withdrawal_news_comes_first(
    harness: Harness, version: str, first: int
) -> None:
    """A dispute of 600 of 1000: `floor(300 * 600 / 1000)` = 180 credits, taken on the
    first news that the funds went, and never again (a lost dispute takes nothing more)."""
    topup = Topup(version, 9113)
    dispute_id = new_id("dp")
    news = [topup.dispute_event(kind, status, dispute_id, 600) for kind, status in WITHDRAWAL_NEWS]
    await harness.run(topup.paid(), news[first])
    clawbacks = [(180, f"stripe:dispute:{dispute_id}")]
    assert await _outcome(harness, topup) == (120, clawbacks, (0, 600, 180, 0))
    rest = news[first + 1 :] + news[:first]
    await harness.run(*rest, *(redelivered(body) for body in news))
    assert await _outcome(harness, topup) == (120, clawbacks, (0, 600, 180, 0))
    assert set(await harness.statuses()) == {"processed"}


@pytest.mark.parametrize("version", SHAPES)
async def test_a_won_dispute_gives_back_exactly_what_its_claw_back_took(
    harness: Harness, version: str
) -> None:
    """250 of the 300 credits were spent: the claw-back takes the 50 left and records 250
    as unrecovered. Won, the dispute gives back the 50 (not the 250 it never took), once,
    and forgives the rest; later news of the dispute changes nothing."""
    topup = Topup(version, 9114)
    dispute_id = new_id("dp")
    clawed, reinstated = _keys(dispute_id)
    await harness.run(topup.paid())
    await post(harness.database, Transfer(SPEND, 9114, 250, actor="test", idempotency_key="spent"))
    await harness.run(topup.dispute_event(DISPUTED, "needs_response", dispute_id))
    assert await _outcome(harness, topup) == (0, [(50, clawed)], (0, 1000, 50, 250))

    won = topup.dispute_event(CLOSED, "won", dispute_id)
    back = topup.dispute_event(REINSTATED, "won", dispute_id)
    await harness.run(won, back, redelivered(won), redelivered(back))
    expected = [("spend", 250, "spent"), ("refund_clawback", 50, clawed)]
    expected.append(("dispute_reinstatement", 50, reinstated))
    assert await _dispute_ledger(harness, 9114) == expected
    assert await _outcome(harness, topup) == (50, [(50, clawed)], (0, 0, 0, 0))

    late = [
        topup.dispute_event(WITHDRAWN, "needs_response", dispute_id),
        topup.dispute_event(UPDATED, "under_review", dispute_id),
    ]
    await harness.run(*late)
    assert await _dispute_ledger(harness, 9114) == expected
    assert await _outcome(harness, topup) == (50, [(50, clawed)], (0, 0, 0, 0))
    assert set(await harness.statuses()) == {"processed"}
    [posted] = await audit_entries(harness.database, action="credit.dispute_reinstatement")
    assert (posted.actor, posted.user_id, posted.details["amount"]) == ("stripe", 9114, 50)


@pytest.mark.parametrize("version", SHAPES)
@pytest.mark.parametrize("first", [CLOSED, REINSTATED])
async def test_a_dispute_won_before_its_withdrawal_is_known_moves_no_credits(
    harness: Harness, version: str, first: str
) -> None:
    """Events come in any order. The news that a dispute was won, before any that its
    funds went, gives nothing back (there is no claw-back to undo) and is not retried:
    it is recorded, and the withdrawal's news that follows takes nothing. Whatever the
    order, a won dispute nets to nothing."""
    topup = Topup(version, 9115)
    dispute_id = new_id("dp")
    outcome = [topup.dispute_event(CLOSED, "won", dispute_id)]
    outcome.append(topup.dispute_event(REINSTATED, "won", dispute_id))
    if first == REINSTATED:
        outcome.reverse()
    await harness.run(topup.paid(), outcome[0], retry_failed=False)
    assert await harness.statuses() == ["processed", "processed"]
    assert await _outcome(harness, topup) == (300, [], (0, 0, 0, 0))

    withdrawal = [topup.dispute_event(kind, status, dispute_id) for kind, status in WITHDRAWAL_NEWS]
    await harness.run(*withdrawal[:3], outcome[1], *withdrawal[:3])
    assert await _dispute_ledger(harness, 9115) == []
    assert await _outcome(harness, topup) == (300, [], (0, 0, 0, 0))
    assert set(await harness.statuses()) == {"processed"}


async def _clawed_back_as_before(harness: Harness, topup: Topup, dispute_id: str) -> None:
    """What `charge.dispute.created` did before disputes had rows, inquiries included:
    the payment marked disputed and its credits clawed back, no dispute row."""
    async with harness.database.sessions() as session, session.begin():
        payment = await recorded_payments.get(session, topup.intent["id"], for_update=True)
        assert payment is not None
        payment.amount_disputed = 1000
        await claw_back(session, payment, key=f"stripe:dispute:{dispute_id}", reference=dispute_id)


@pytest.mark.parametrize("version", SHAPES)
@pytest.mark.parametrize("closing", ["won", "warning_closed"])
async def test_a_claw_back_made_before_disputes_had_rows_is_given_back(
    harness: Harness, version: str, closing: str
) -> None:
    """A dispute clawed back by the earlier code (no row) is taken over by its row: won,
    or closed as the inquiry it was, its credits come back; once."""
    topup = Topup(version, 9116)
    dispute_id = new_id("dp")
    clawed, reinstated = _keys(dispute_id)
    await harness.run(topup.paid())
    await _clawed_back_as_before(harness, topup, dispute_id)
    assert await harness.balance(9116) == 0

    status = "needs_response" if closing == "won" else "warning_needs_response"
    closed = topup.dispute_event(CLOSED, closing, dispute_id)
    await harness.run(topup.dispute_event(UPDATED, status, dispute_id), closed, redelivered(closed))
    expected = [("refund_clawback", 300, clawed), ("dispute_reinstatement", 300, reinstated)]
    assert await _dispute_ledger(harness, 9116) == expected
    assert await _outcome(harness, topup) == (300, [(300, clawed)], (0, 0, 0, 0))
    assert set(await harness.statuses()) == {"processed"}


def _sandbox_charge(harness: Harness) -> str:
    """A real charge in the sandbox, of a customer the service does not know."""
    customer = customer_with_card(harness.stripe)
    return str(card_payment(harness.stripe, customer.id).latest_charge)


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
    unknown = dispute(
        version,
        amount=500,
        charge=_sandbox_charge(harness),
        payment_intent=None,
        status="needs_response",
    )
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
    clawbacks = [(300, f"stripe:refund:{topup.charge_id}:1000")]
    assert await _outcome(harness, topup) == (0, clawbacks, (1000, 0, 300, 0))


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
    clawbacks = [(150, f"stripe:refund:{topup.charge_id}:500")]
    assert await _outcome(harness, topup) == (150, clawbacks, (500, 0, 150, 0))


@pytest.mark.parametrize("version", SHAPES)
@pytest.mark.parametrize("reversal", ["refund", "dispute"])
async def test_money_back_after_a_failed_attempt_waits_for_the_success(
    harness: Harness, version: str, reversal: str
) -> None:
    """The payment is recorded, but only as a failed attempt: money can go back only from
    a charge that succeeded, so its success event is still to come. The refund or dispute
    is retried until it is, and the clawback is not lost."""
    topup = Topup(version, 9108)
    declined = payment_intent(
        version,
        id=topup.intent["id"],
        amount=1000,
        status="requires_payment_method",
        metadata=topup.intent["metadata"],
        last_payment_error={"code": "card_declined", "message": "Your card was declined."},
    )
    dispute_id = new_id("dp")
    back = topup.refunded(500) if reversal == "refund" else topup.disputed(500, dispute_id)
    failed = event(version, "payment_intent.payment_failed", declined)
    await harness.run(failed, back, retry_failed=False)
    assert await harness.statuses() == ["processed", "failed"]
    assert (await harness.payment(topup.intent["id"])).status == "failed"

    await harness.deliver(topup.paid())
    await harness.process()
    assert await harness.statuses() == ["processed"] * 3
    key = (
        f"stripe:refund:{topup.charge_id}:500"
        if reversal == "refund"
        else f"stripe:dispute:{dispute_id}"
    )
    totals = (500, 0, 150, 0) if reversal == "refund" else (0, 500, 150, 0)
    assert await _outcome(harness, topup) == (150, [(150, key)], totals)


async def _refunded_invoice(
    harness: Harness, version: str, user_id: int, refunded: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(invoice, charge): a user's paid first invoice (2000 cents for 600 credits; only the
    old shape names its payment intent), then its charge refunded by `refunded`."""
    plan = credit_price(harness.stripe, amount=2000, credits=600, recurring=True)
    customer, intent = new_id("cus"), new_id("pi")
    await harness.link(user_id, customer)
    obj = plan_invoice(
        version,
        plan,
        billing_reason="subscription_create",
        customer=customer,
        subscription=new_id("sub"),
        payment_intent=intent,
    )
    refund = charge(
        version,
        amount=2000,
        amount_refunded=refunded,
        payment_intent=intent,
        customer=customer,
        metadata={},
    )
    await harness.run(event(version, "invoice.paid", obj), event(version, REFUNDED, refund))
    return obj, refund


async def test_an_invoice_refund_is_matched_through_the_invoice_payment_intent(
    harness: Harness,
) -> None:
    obj, refund = await _refunded_invoice(harness, OLD, 9105, refunded=1000)
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
    await _refunded_invoice(harness, NEW, 9106, refunded=2000)
    statuses = await harness.statuses()
    assert statuses == ["processed", "failed"]
    assert await harness.balance(9106) == 600
