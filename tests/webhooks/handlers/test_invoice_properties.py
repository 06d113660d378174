"""A property of subscription credits: whatever sequence of upgrades, downgrades, quantity
changes, renewals and spends a customer makes, paid by card, customer balance or with tax
on top, the wallet ends where an oracle says. The oracle works from the plans' credits and
the days of each change alone (what each change is worth in credits, never the invoice
lines' amounts, which the test builds as Stripe bills them); the service reads the lines.

The design, in the oracle's terms: a period's invoice grants the plan's credits times the
quantity; a change `d` days into a 30-day period is worth (new credits - old credits) *
(30 - d) / 30; an invoice's changes are summed and rounded toward zero; an invoice worth
less than nothing takes back what the wallet holds, never below zero."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.event_shapes import SHAPES, event, invoice, line_item, new_id
from tests.support.handler_harness import Harness, credit_price

DAYS = 30  # one period; plans' amounts are multiples of it, so every proration is whole cents
users = itertools.count(50_000)

plans_st = st.lists(
    st.tuples(st.integers(1, 400).map(lambda k: k * DAYS), st.integers(0, 5000)),
    min_size=2,
    max_size=3,
)
step_st = st.one_of(
    # (plan, quantity, days on, billed now?): a change some days later in the period
    st.tuples(
        st.just("change"), st.integers(0, 2), st.integers(1, 3), st.integers(0, 9), st.booleans()
    ),
    st.tuples(st.just("renew"), st.just(0), st.just(0), st.just(0), st.just(False)),
    st.tuples(st.just("spend"), st.integers(1, 4000), st.just(0), st.just(0), st.just(False)),
)
# How each invoice is paid: card, exclusive tax on top, or from a customer balance.
payment_st = st.sampled_from(["card", "tax", "balance"])


@dataclass
class Oracle:
    """The wallet, from plans' credits and days: never from invoice amounts."""

    balance: int = 0
    owed: Fraction = Fraction(0)  # the changes not invoiced yet

    def change(self, old_credits: int, new_credits: int, day: int) -> None:
        self.owed += Fraction((new_credits - old_credits) * (DAYS - day), DAYS)

    def invoice(self, period_credits: int) -> None:
        worth = period_credits + math.trunc(self.owed)
        self.owed = Fraction(0)
        self.balance = self.balance + worth if worth >= 0 else max(self.balance + worth, 0)

    def spend(self, credits: int) -> bool:
        if credits > self.balance:
            return False
        self.balance -= credits
        return True


@dataclass
class Customer:
    """Stripe's side: the plan billed, the day in the period, the pending proration lines."""

    version: str
    plans: list[dict[str, Any]]
    plan: int = 0
    quantity: int = 1
    day: int = 0
    pending: list[dict[str, Any]] = field(default_factory=list)
    customer: str = field(default_factory=lambda: new_id("cus"))
    subscription: str = field(default_factory=lambda: new_id("sub"))

    def _proration(self, plan: int, quantity: int, sign: int, pending: bool) -> dict[str, Any]:
        price = self.plans[plan]
        amount = sign * price["unit_amount"] * quantity * (DAYS - self.day) // DAYS
        return line_item(
            self.version,
            price=price,
            quantity=quantity,
            amount=amount,
            proration=True,
            invoice_item=pending,
        )

    def change(self, plan: int, quantity: int, now: bool) -> None:
        self.pending += [
            self._proration(self.plan, self.quantity, -1, not now),
            self._proration(plan, quantity, 1, not now),
        ]
        self.plan, self.quantity = plan, quantity

    def bill(self, reason: str, paid_by: str, *, period: bool) -> bytes:
        lines = self.pending
        if period:
            price = self.plans[self.plan]
            amount = price["unit_amount"] * self.quantity
            lines = [line_item(self.version, price=price, quantity=self.quantity, amount=amount)]
            lines += self.pending
        self.pending = []
        total = sum(line["amount"] for line in lines)
        extra: dict[str, int] = {"total": total}
        collected = max(total, 0)
        if paid_by == "tax":
            tax = collected // 5
            extra = {"tax": tax, "total": total + tax, "total_excluding_tax": total}
            collected += tax
        elif paid_by == "balance":
            extra["starting_balance"], collected = -collected, 0
        obj = invoice(
            self.version,
            customer=self.customer,
            subscription=self.subscription,
            billing_reason=reason,
            lines=lines,
            amount_paid=collected,
            **extra,
        )
        return event(self.version, "invoice.paid", obj)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    version=st.sampled_from(SHAPES),
    plans=plans_st,
    steps=st.lists(st.tuples(step_st, payment_st), max_size=10),
)
async def test_any_sequence_of_plan_changes_ends_as_the_oracle_says(
    harness: Harness,
    version: str,
    plans: list[tuple[int, int]],
    steps: list[tuple[tuple[str, int, int, int, bool], str]],
) -> None:
    user = next(users)
    prices = [
        credit_price(harness.stripe, amount=amount, credits=credits or None, recurring=True)
        for amount, credits in plans
    ]
    stripe, oracle = Customer(version, prices), Oracle()
    await harness.link(user, stripe.customer)
    credits = [credits for _, credits in plans]

    await harness.run(stripe.bill("subscription_create", "card", period=True))
    oracle.invoice(credits[0])
    for (step, value, quantity, days, now), paid_by in steps:
        if step == "spend":
            assert await harness.spend(user, value) == oracle.spend(value)
        elif step == "renew":
            stripe.day = 0
            await harness.run(stripe.bill("subscription_cycle", paid_by, period=True))
            oracle.invoice(credits[stripe.plan] * stripe.quantity)
        else:
            plan = value % len(plans)
            if (plan, quantity) == (stripe.plan, stripe.quantity):
                continue
            stripe.day = min(stripe.day + days, DAYS - 1)
            old = credits[stripe.plan] * stripe.quantity
            oracle.change(old, credits[plan] * quantity, stripe.day)
            stripe.change(plan, quantity, now)
            if now:
                await harness.run(stripe.bill("subscription_update", paid_by, period=False))
                oracle.invoice(0)

    assert await harness.balance(user) == oracle.balance >= 0
    assert set(await harness.statuses()) == {"processed"}
    await harness.verify()
