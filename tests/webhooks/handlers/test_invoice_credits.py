"""What a paid subscription invoice is worth: its subscription lines, never what paid it.

Tax, a customer-balance credit or a coupon change what an invoice collects, not the
credits; a proration line grants, or takes back when negative, its share of the plan; a
trial's zero invoice grants the plan's `trial_credits`. The property test at the end runs
random sequences of upgrades, downgrades, renewals and spends against an oracle that
works from the plans and the days alone, never from the invoice lines."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from billing.catalog.service import apply_price, snapshot_time
from billing.credits.accounts import SPEND
from billing.credits.service import post
from billing.credits.transfers import Transfer
from tests.support.event_shapes import OLD, SHAPES, charge, event, invoice, line_item, new_id
from tests.support.handler_harness import Harness, credit_price

PAID = "invoice.paid"
users = itertools.count(40_000)


def _linked_invoice(version: str, customer: str, sub: str, **fields: Any) -> bytes:
    return event(version, PAID, invoice(version, customer=customer, subscription=sub, **fields))


@pytest.mark.parametrize("version", SHAPES)
@pytest.mark.parametrize(
    ("collected", "extra"),
    [
        (1000, {}),  # a card paid it all
        (1200, {"tax": 200, "total_excluding_tax": 1000, "total": 1200}),  # 20% tax on top
        (0, {"starting_balance": -1000, "ending_balance": 0}),  # the customer's balance
        (300, {"starting_balance": -700, "ending_balance": 0}),  # part balance, part card
    ],
)
async def test_a_plan_change_is_worth_its_lines_whatever_collected_it(
    harness: Harness, version: str, collected: int, extra: dict[str, int]
) -> None:
    """Half a period left, from 1000 credits for 1000 to 3000 for 3000: the unused half
    of the old plan (-500) and the rest of the new (+1500) are worth 1000 credits."""
    old = credit_price(harness.stripe, amount=1000, credits=1000, recurring=True)
    new = credit_price(harness.stripe, amount=3000, credits=3000, recurring=True)
    user, customer = next(users), new_id("cus")
    await harness.link(user, customer)
    lines = [
        line_item(version, price=old, quantity=1, amount=-500, proration=True),
        line_item(version, price=new, quantity=1, amount=1500, proration=True),
    ]
    body = _linked_invoice(
        version,
        customer,
        new_id("sub"),
        billing_reason="subscription_update",
        lines=lines,
        amount_paid=collected,
        **extra,
    )
    await harness.run(body)
    assert await harness.balance(user) == 1000
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_a_renewal_paid_from_the_customer_balance_grants_the_plan(
    harness: Harness, version: str
) -> None:
    plan = credit_price(harness.stripe, amount=2000, credits=700, recurring=True)
    user, customer = next(users), new_id("cus")
    await harness.link(user, customer)
    lines = [line_item(version, price=plan, quantity=2, amount=4000)]
    body = _linked_invoice(
        version,
        customer,
        new_id("sub"),
        billing_reason="subscription_cycle",
        lines=lines,
        amount_paid=0,
        starting_balance=-5000,
        ending_balance=-1000,
    )
    await harness.run(body)
    assert await harness.balance(user) == 1400
    assert (await harness.payments())[-1].credits == 1400


@pytest.mark.parametrize("version", SHAPES)
@pytest.mark.parametrize(("spent", "taken", "unrecovered"), [(0, 5000, 0), (5500, 500, 4500)])
async def test_a_downgrade_billed_at_once_takes_back_the_unused_share(
    harness: Harness, version: str, spent: int, taken: int, unrecovered: int
) -> None:
    """6000 credits for 6000, then, with the whole period left, 1000 for 1000: the invoice
    is -5000 (a customer-balance credit) and takes 5000 credits back, never below zero."""
    big = credit_price(harness.stripe, amount=6000, credits=6000, recurring=True)
    small = credit_price(harness.stripe, amount=1000, credits=1000, recurring=True)
    user, customer, sub = next(users), new_id("cus"), new_id("sub")
    await harness.link(user, customer)
    first = [line_item(version, price=big, quantity=1, amount=6000)]
    await harness.run(
        _linked_invoice(
            version,
            customer,
            sub,
            billing_reason="subscription_create",
            lines=first,
            amount_paid=6000,
        )
    )
    if spent:
        await post(harness.database, Transfer(SPEND, user, spent, actor="test"))
    downgrade = invoice(
        version,
        customer=customer,
        subscription=sub,
        billing_reason="subscription_update",
        lines=[
            line_item(version, price=big, quantity=1, amount=-6000, proration=True),
            line_item(version, price=small, quantity=1, amount=1000, proration=True),
        ],
        amount_paid=0,
        ending_balance=-5000,
    )
    both = (event(version, PAID, downgrade), event(version, "invoice.payment_succeeded", downgrade))
    await harness.run(*both)
    assert await harness.balance(user) == 6000 - spent - taken
    key = f"stripe:invoice:{downgrade['id']}"
    assert (await harness.ledger(user))[-1] == ("subscription_clawback", taken, key)
    row = await harness.payment(downgrade["id"])
    assert (row.amount, row.credits) == (0, 0)
    assert (row.credits_clawed_back, row.credits_unrecovered) == (taken, unrecovered)
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_a_balance_left_by_a_downgrade_buys_no_free_credits_on_resubscribing(
    harness: Harness, version: str
) -> None:
    """The review's case: 6000 credits for $60, a downgrade to $10 that leaves $50 on the
    customer's balance, a cancel, then $60 again of which the card pays $10. $70 paid in
    all buys 7000 credits (before the fix: 12000)."""
    big = credit_price(harness.stripe, amount=6000, credits=6000, recurring=True)
    small = credit_price(harness.stripe, amount=1000, credits=1000, recurring=True)
    user, customer, first_sub = next(users), new_id("cus"), new_id("sub")
    await harness.link(user, customer)
    invoices = [
        ("subscription_create", first_sub, [(big, 6000, False)], 6000, {}),
        ("subscription_update", first_sub, [(big, -6000, True), (small, 1000, True)], 0, {}),
        (
            "subscription_create",
            new_id("sub"),
            [(big, 6000, False)],
            1000,
            {"starting_balance": -5000},
        ),
    ]
    for reason, sub, lines, paid, extra in invoices:
        items = [
            line_item(version, price=p, quantity=1, amount=a, proration=r) for p, a, r in lines
        ]
        await harness.run(
            _linked_invoice(
                version,
                customer,
                sub,
                billing_reason=reason,
                lines=items,
                amount_paid=paid,
                **extra,
            )
        )
    assert await harness.balance(user) == 7000
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
@pytest.mark.parametrize("on", ["price", "product"])
async def test_a_trial_grants_the_plans_trial_credits(
    harness: Harness, version: str, on: str
) -> None:
    """`trial_credits` on the price, else on its product (fetched: not mirrored yet)."""
    trial = {"trial_credits": "50"}
    price = harness.stripe.v1.prices.create(
        params={
            "currency": "usd",
            "unit_amount": 1500,
            "recurring": {"interval": "month"},
            "metadata": {"credits": "900", **(trial if on == "price" else {})},
            "product_data": {
                "name": "Plan with a trial",
                "metadata": trial if on == "product" else {},
            },
        }
    ).to_dict(for_json=True)
    user, customer = next(users), new_id("cus")
    await harness.link(user, customer)
    body = _linked_invoice(
        version,
        customer,
        new_id("sub"),
        billing_reason="subscription_create",
        lines=[line_item(version, price=price, quantity=2, amount=0)],
        amount_paid=0,
    )
    await harness.run(body)
    assert await harness.balance(user) == 100


@pytest.mark.parametrize("version", SHAPES)
async def test_prorations_left_pending_count_on_the_renewal(harness: Harness, version: str) -> None:
    """A downgrade two thirds into a period, not invoiced at once: its proration items wait
    for the renewal, which bills the new plan (600), takes back the old plan's unused third
    (-1000) and grants the new plan's third (+200): 3000 - 200 in all, for $30 - $1."""
    old = credit_price(harness.stripe, amount=3000, credits=3000, recurring=True)
    new = credit_price(harness.stripe, amount=900, credits=600, recurring=True)
    user, customer, sub = next(users), new_id("cus"), new_id("sub")
    await harness.link(user, customer)
    first = [line_item(version, price=old, quantity=1, amount=3000)]
    renewal = [
        line_item(version, price=new, quantity=1, amount=900),
        line_item(version, price=old, quantity=1, amount=-1000, proration=True, invoice_item=True),
        line_item(version, price=new, quantity=1, amount=300, proration=True, invoice_item=True),
    ]
    for reason, lines in (("subscription_create", first), ("subscription_cycle", renewal)):
        paid = max(sum(line["amount"] for line in lines), 0)
        await harness.run(
            _linked_invoice(
                version, customer, sub, billing_reason=reason, lines=lines, amount_paid=paid
            )
        )
    assert await harness.balance(user) == 2800
    assert [kind for kind, _, _ in await harness.ledger(user)] == [
        "subscription_grant",
        "subscription_clawback",
    ]
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_seats_at_zero_and_a_tiered_plans_trial_grant_nothing(
    harness: Harness, version: str
) -> None:
    """A line of quantity 0 (no seats) is not read as one seat; a zero line of a price
    with no unit amount (tiered: is it free, or a trial?) grants its `trial_credits` only."""
    seats = credit_price(harness.stripe, amount=1000, credits=300, recurring=True)
    tiered = {
        "id": new_id("price"),
        "object": "price",
        "product": new_id("prod"),
        "currency": "usd",
        "unit_amount": None,
        "billing_scheme": "tiered",
        "recurring": {"interval": "month", "interval_count": 1},
        "type": "recurring",
        "active": True,
        "metadata": {"credits": "900"},
    }
    async with harness.database.sessions() as session, session.begin():
        await apply_price(session, tiered, snapshot_time())
    user, customer = next(users), new_id("cus")
    await harness.link(user, customer)
    lines = [
        line_item(version, price=seats, quantity=0, amount=0),
        line_item(version, price={**tiered, "unit_amount": 0}, quantity=1, amount=0),
    ]
    body = _linked_invoice(
        version,
        customer,
        new_id("sub"),
        billing_reason="subscription_create",
        lines=lines,
        amount_paid=0,
    )
    await harness.run(body)
    assert await harness.statuses() == ["processed"]
    assert await harness.balance(user) == 0


@pytest.mark.parametrize("version", SHAPES)
async def test_a_plan_change_counts_no_proration_when_one_side_cannot_be_priced(
    harness: Harness, version: str
) -> None:
    """Half a period left, from a USD plan to one priced in EUR only: counting the old
    plan's unused half alone would take credits back for an upgrade. Neither side counts,
    and a person is told."""
    old = credit_price(harness.stripe, amount=1000, credits=1000, recurring=True)
    euro = harness.stripe.v1.prices.create(
        params={
            "currency": "eur",
            "unit_amount": 3000,
            "recurring": {"interval": "month"},
            "metadata": {"credits": "3000"},
            "product_data": {"name": "Plan in eur"},
        }
    ).to_dict(for_json=True)
    user, customer, sub = next(users), new_id("cus"), new_id("sub")
    await harness.link(user, customer)
    first = [line_item(version, price=old, quantity=1, amount=1000)]
    change = [
        line_item(version, price=old, quantity=1, amount=-500, proration=True),
        line_item(version, price=euro, quantity=1, amount=1500, proration=True),
    ]
    for reason, lines in (("subscription_create", first), ("subscription_update", change)):
        await harness.run(
            _linked_invoice(
                version, customer, sub, billing_reason=reason, lines=lines, amount_paid=1000
            )
        )
    assert await harness.balance(user) == 1000
    assert [kind for kind, _, _ in await harness.ledger(user)] == ["subscription_grant"]


@pytest.mark.parametrize("version", SHAPES)
async def test_an_invoice_not_paid_yet_waits_for_its_paid_event(
    harness: Harness, version: str
) -> None:
    """A `payment_succeeded` for an invoice still open (partly paid) records nothing, so
    the `invoice.paid` that follows grants the plan."""
    plan = credit_price(harness.stripe, amount=1000, credits=250, recurring=True)
    user, customer, sub = next(users), new_id("cus"), new_id("sub")
    await harness.link(user, customer)
    fields: dict[str, Any] = {
        "customer": customer,
        "subscription": sub,
        "billing_reason": "subscription_cycle",
        "lines": [line_item(version, price=plan, quantity=1, amount=1000)],
        "invoice_id": new_id("in"),
    }
    partly = invoice(version, status="open", amount_paid=400, amount_due=1000, **fields)
    await harness.run(event(version, "invoice.payment_succeeded", partly))
    assert (await harness.balance(user), await harness.payments()) == (0, [])
    paid = invoice(version, amount_paid=1000, **fields)
    await harness.run(event(version, PAID, paid))
    assert await harness.balance(user) == 250


async def test_a_refund_of_the_card_part_takes_back_only_its_share(harness: Harness) -> None:
    """6000 credits for a $60 invoice paid $50 from the customer's balance and $10 by card:
    refunding the $10 takes back 1000 credits (10/60), not all 6000."""
    version = OLD  # the old shape names the invoice's payment intent, which the refund's is
    plan = credit_price(harness.stripe, amount=6000, credits=6000, recurring=True)
    user, customer, intent = next(users), new_id("cus"), new_id("pi")
    await harness.link(user, customer)
    paid = invoice(
        version,
        customer=customer,
        subscription=new_id("sub"),
        billing_reason="subscription_create",
        lines=[line_item(version, price=plan, quantity=1, amount=6000)],
        amount_paid=1000,
        starting_balance=-5000,
        payment_intent=intent,
    )
    refund = charge(
        version,
        amount=1000,
        amount_refunded=1000,
        refunded=True,
        payment_intent=intent,
        customer=customer,
        metadata={},
    )
    await harness.run(event(version, PAID, paid), event(version, "charge.refunded", refund))
    assert await harness.balance(user) == 5000
    row = await harness.payment(paid["id"])
    assert (row.amount, row.credit_basis, row.credits_clawed_back) == (1000, 6000, 1000)
    await harness.verify()
