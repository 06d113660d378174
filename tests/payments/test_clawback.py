"""The clawback arithmetic: proportional, never more than the credits, never negative,
monotone, and exact however the reversals are split or ordered."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from billing.payments.clawback import Clawback, clawback_due

credits_st = st.integers(0, 10**9)
amount_st = st.integers(1, 10**8)


def _target(credits: int, amount: int, reversed_amount: int) -> int:
    return credits * min(amount, reversed_amount) // amount


@given(
    credits=credits_st,
    amount=amount_st,
    steps=st.lists(
        st.tuples(st.integers(0, 10**8), st.integers(0, 10**9)), min_size=1, max_size=12
    ),
)
def test_settling_reversals_one_by_one_sums_to_the_exact_share(
    credits: int, amount: int, steps: list[tuple[int, int]]
) -> None:
    """Cumulative reversals in any order, any balances: each step is non-negative, the
    settled total only grows, never exceeds the credits, and ends at the exact share of
    the largest reversal seen (taken plus unrecoverable)."""
    settled = 0
    for reversed_amount, balance in steps:
        due = clawback_due(credits, amount, reversed_amount, settled, balance)
        assert due.take >= 0
        assert due.unrecovered >= 0
        assert due.take <= balance
        settled += due.take + due.unrecovered
        assert settled <= credits
    assert settled == _target(credits, amount, max(r for r, _ in steps))


@given(credits=credits_st, amount=amount_st, reversed_amount=st.integers(0, 10**9))
def test_a_wallet_that_holds_enough_loses_exactly_the_share(
    credits: int, amount: int, reversed_amount: int
) -> None:
    due = clawback_due(credits, amount, reversed_amount, 0, credits)
    assert due == Clawback(_target(credits, amount, reversed_amount), 0)


@given(
    credits=credits_st,
    amount=amount_st,
    low=st.integers(0, 10**8),
    more=st.integers(0, 10**8),
)
def test_more_reversed_never_owes_less(credits: int, amount: int, low: int, more: int) -> None:
    owed = clawback_due(credits, amount, low, 0, 0).unrecovered
    assert owed <= clawback_due(credits, amount, low + more, 0, 0).unrecovered


def test_examples() -> None:
    assert clawback_due(300, 1000, 250, 0, 1000) == Clawback(75, 0)
    assert clawback_due(300, 1000, 1000, 75, 50) == Clawback(50, 175)
    assert clawback_due(300, 1000, 5000, 0, 1000) == Clawback(300, 0)  # capped at the amount
    assert clawback_due(300, 1000, 500, 300, 1000) == Clawback(0, 0)  # already settled
    assert clawback_due(0, 1000, 1000, 0, 1000) == Clawback(0, 0)
    assert clawback_due(300, 0, 1000, 0, 1000) == Clawback(0, 0)
