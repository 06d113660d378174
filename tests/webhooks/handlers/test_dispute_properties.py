"""A property of disputes: whatever the order of a payment's dispute events, duplicated
or redelivered, with spends between them, the wallet ends where an oracle says, worked out
from the events alone without the service's code: funded - spent - clawed + reinstated,
never below zero, one claw-back and one reinstatement at most per dispute, and the ledger
sound (`verify-ledger`)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.event_shapes import SHAPES, new_id
from tests.support.handler_harness import Harness, redelivered
from tests.webhooks.handlers.test_disputes import (
    CLOSED,
    DISPUTED,
    REINSTATED,
    UPDATED,
    WITHDRAWN,
    Topup,
)

CREDITS, AMOUNT = 300, 1000  # the top-up: 1000 cents for 300 credits
users = itertools.count(30_000)

# The dispute events Stripe may send for each ending, as (type, status then).
ENDINGS: dict[str, tuple[tuple[str, str], ...]] = {
    "won": (
        (DISPUTED, "needs_response"),
        (WITHDRAWN, "needs_response"),
        (UPDATED, "under_review"),
        (CLOSED, "won"),
        (REINSTATED, "won"),
    ),
    "lost": (
        (DISPUTED, "needs_response"),
        (WITHDRAWN, "needs_response"),
        (UPDATED, "under_review"),
        (CLOSED, "lost"),
    ),
    "inquiry": (
        (DISPUTED, "warning_needs_response"),
        (UPDATED, "warning_under_review"),
        (CLOSED, "warning_closed"),
    ),
}
# Steps: deliver event i (again, or redelivered under a new id), or spend some credits.
steps_st = st.lists(
    st.one_of(
        st.tuples(st.just("event"), st.integers(0, 99), st.booleans()),
        st.tuples(st.just("spend"), st.integers(1, 150), st.just(False)),
    ),
    max_size=14,
)


@dataclass
class Oracle:
    """The design, in a few lines: a dispute claws back on the first news that its funds
    went, unless it is already known won; gives back, on the first news that it was won,
    what its claw-back took; an inquiry moves nothing."""

    balance: int = CREDITS
    spent: int = 0
    clawed: dict[str, int] = field(default_factory=dict)  # by dispute: credits taken
    won: set[str] = field(default_factory=set)
    reinstated: int = 0

    def news(self, dispute_id: str, amount: int, kind: str, status: str) -> None:
        if kind == REINSTATED or status == "won":
            if dispute_id not in self.won:
                self.won.add(dispute_id)
                self.reinstated += self.clawed.get(dispute_id, 0)
                self.balance += self.clawed.get(dispute_id, 0)
        elif kind == WITHDRAWN or status in ("needs_response", "under_review", "lost"):
            if dispute_id in self.clawed or dispute_id in self.won:
                return
            share = CREDITS * amount // AMOUNT  # one chargeback per charge
            self.clawed[dispute_id] = min(share, self.balance)
            self.balance -= self.clawed[dispute_id]

    def spend(self, credits: int) -> bool:
        if credits > self.balance:
            return False
        self.balance -= credits
        self.spent += credits
        return True


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    version=st.sampled_from(SHAPES),
    ending=st.sampled_from(sorted(ENDINGS)),
    inquiry_first=st.booleans(),
    amount=st.integers(1, AMOUNT),
    steps=steps_st,
)
async def test_any_order_of_dispute_events_ends_as_the_oracle_says(
    harness: Harness,
    version: str,
    ending: str,
    inquiry_first: bool,
    amount: int,
    steps: list[tuple[str, int, bool]],
) -> None:
    user = next(users)
    topup = Topup(version, user)
    await harness.run(topup.paid())
    dispute_id, inquiry_id = new_id("dp"), new_id("dp")
    # (dispute, type, status, body) of every event this payment's disputes may send.
    events = [
        (dispute_id, kind, status, topup.dispute_event(kind, status, dispute_id, amount))
        for kind, status in ENDINGS[ending]
    ]
    if inquiry_first:  # an inquiry of the same charge, closed before the chargeback
        events += [
            (inquiry_id, kind, status, topup.dispute_event(kind, status, inquiry_id, amount))
            for kind, status in ENDINGS["inquiry"]
        ]
    oracle = Oracle()
    for step, value, again in steps:
        if step == "spend":
            assert await harness.spend(user, value) == oracle.spend(value)
            continue
        disputed, kind, status, body = events[value % len(events)]
        oracle.news(disputed, amount, kind, status)
        await harness.run(redelivered(body) if again else body)

    assert await harness.balance(user) == oracle.balance >= 0
    assert oracle.balance == CREDITS - oracle.spent - sum(oracle.clawed.values()) + (
        oracle.reinstated
    )
    ledger = await harness.ledger(user)
    clawbacks = {key: amount for kind, amount, key in ledger if kind == "refund_clawback"}
    reinstatements = {
        key: amount for kind, amount, key in ledger if kind == "dispute_reinstatement"
    }
    assert clawbacks == {
        f"stripe:dispute:{disputed}": taken for disputed, taken in oracle.clawed.items() if taken
    }
    assert reinstatements == {
        f"stripe:dispute_reinstated:{disputed}": oracle.clawed[disputed]
        for disputed in oracle.won
        if oracle.clawed.get(disputed)
    }
    assert set(await harness.statuses()) == {"processed"}
    await harness.verify()
