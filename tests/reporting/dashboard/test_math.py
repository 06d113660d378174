"""The dashboard's arithmetic: plans normalised to a month, rounded once per currency."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from billing.reporting.dashboard.repository import PlanGroup
from billing.reporting.dashboard.service import monthly, recurring, round_half_up

# Charges per year of one interval of each kind.
PER_YEAR = {"day": 365, "week": 52, "month": 12, "year": 1}

# (currency, interval, interval count, unit amount x quantity, subscriptions paying)
plans = st.tuples(
    st.sampled_from(["eur", "usd"]),
    st.sampled_from(sorted(PER_YEAR)),
    st.integers(1, 12),
    st.one_of(st.just(0), st.integers(1, 10**9)),  # free plans too
    st.integers(0, 5),
)


def decimal_half_up(numerator: int, denominator: int) -> int:
    """Round numerator/denominator to an integer, halves up, in decimal arithmetic."""
    with localcontext() as context:
        context.prec = 60
        exact = Decimal(numerator) / Decimal(denominator)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@given(st.lists(plans, max_size=20))
def test_mrr_and_arr_are_the_exact_monthly_sum_rounded_once(
    plan_list: list[tuple[str, str, int, int, int]],
) -> None:
    groups = [
        PlanGroup(currency, interval, count, 0, 0, 0, paying, paying, amount * paying)
        for currency, interval, count, amount, paying in plan_list
    ]
    # Independently: a plan charging a every c intervals is worth a x PER_YEAR / (12 c) a
    # month; over the common denominator 12 x 365 x 52 x 12! every term is an integer.
    denominator = 12 * 365 * 52 * 479001600
    expected: dict[str, int] = {}
    for currency, interval, count, amount, paying in plan_list:
        if not paying:
            continue
        term = amount * paying * PER_YEAR[interval] * (denominator // 12) // count
        expected[currency] = expected.get(currency, 0) + term
    figures = {r.currency: (r.mrr, r.arr) for r in recurring(groups)}
    assert set(figures) == set(expected)  # a currency with any paying subscription
    for currency, (mrr, arr) in figures.items():
        assert mrr == decimal_half_up(expected[currency], denominator)
        assert arr == decimal_half_up(12 * expected[currency], denominator)
        assert abs(arr - 12 * mrr) <= 6


@given(st.integers(0, 10**12), st.sampled_from(sorted(PER_YEAR)), st.integers(1, 100))
def test_a_year_of_a_plan_is_twelve_months_of_it(amount: int, interval: str, count: int) -> None:
    per_month = monthly(amount, interval, count)
    assert per_month == Fraction(amount * PER_YEAR[interval], 12 * count)


def test_plans_without_a_known_interval_have_no_monthly_value() -> None:
    assert monthly(1000, None, 1) is None
    assert monthly(1000, "fortnight", 1) is None
    assert monthly(1000, "month", None) is None
    assert monthly(1000, "month", 0) is None


def test_halves_round_up() -> None:
    assert [round_half_up(Fraction(n, 2)) for n in range(5)] == [0, 1, 1, 2, 2]
    assert round_half_up(Fraction(5, 6)) == 1
    assert round_half_up(Fraction(1, 3)) == 0
