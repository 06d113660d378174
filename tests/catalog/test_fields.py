"""Reading Stripe objects: credits from metadata are plain positive integers or nothing."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from billing.catalog.fields import (
    MAX_CREDITS,
    credits_from,
    parse_credits,
    price_fields,
    product_fields,
)
from tests.support.catalog_payloads import price_2023, price_2026, product_2023, product_2026


@given(st.integers(min_value=1, max_value=MAX_CREDITS))
def test_every_positive_integer_in_range_is_read_back(credits: int) -> None:
    assert parse_credits(str(credits)) == credits


@given(st.integers(min_value=1, max_value=MAX_CREDITS), st.integers(min_value=1, max_value=15))
def test_leading_zeros_do_not_change_the_number(credits: int, zeros: int) -> None:
    text = "0" * zeros + str(credits)
    assert parse_credits(text) == (credits if len(text) <= 16 else None)


@given(st.integers().filter(lambda n: n <= 0 or n > MAX_CREDITS))
def test_zero_negative_and_too_large_are_refused(credits: int) -> None:
    assert parse_credits(str(credits)) is None


@given(st.text(max_size=30))
@example("\uff11\uff12")  # full-width digits: str.isdigit() says yes, people mean no
@example("²")
@example(" 10")
@example("10\n")
@example("+10")
@example("1_000")
@example("1e3")
@example("10.0")
@example("")
def test_anything_but_plain_ascii_digits_is_refused(text: str) -> None:
    plain = re.fullmatch(r"[0-9]+", text, flags=re.ASCII) is not None
    if not plain:
        assert parse_credits(text) is None
    else:
        assert parse_credits(text) == (int(text) if 0 < int(text) <= MAX_CREDITS else None)


@given(st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), st.lists(st.text())))
def test_values_that_are_not_strings_are_refused(value: object) -> None:
    assert parse_credits(value) is None


def test_a_malformed_credits_value_is_logged_and_grants_nothing() -> None:
    with capture_logs() as logs:
        bad = {"id": "price_1", "object": "price", "metadata": {"credits": "ten"}}
        assert credits_from(bad) is None
    assert [(log["event"], log["id"], log["value"]) for log in logs] == [
        ("catalog_credits_invalid", "price_1", "ten")
    ]
    with capture_logs() as logs:
        assert credits_from({"id": "price_2", "metadata": {}}) is None
        assert credits_from({"id": "price_3", "metadata": {"credits": "500"}}) == 500
    assert logs == []


def test_both_shapes_give_the_same_columns() -> None:
    fields = [
        price_fields(price("prod_1", metadata={"credits": "7"}, nickname="Monthly"))
        for price in (price_2023, price_2026)
    ]
    assert fields[0] == fields[1]
    assert fields[0] == {
        "product_id": "prod_1",
        "active": True,
        "currency": "usd",
        "unit_amount": 2000,
        "type": "recurring",
        "interval": "month",
        "interval_count": 1,
        "credits": 7,
        "nickname": "Monthly",
        "metadata_": {"credits": "7"},
    }
    products = [
        product_fields(product(name="Pro", description="More", metadata={"credits": "9"}))
        for product in (product_2023, product_2026)
    ]
    assert products[0] == products[1]
    assert products[0] == {
        "name": "Pro",
        "description": "More",
        "active": True,
        "credits": 9,
        "metadata_": {"credits": "9"},
    }


def test_a_one_time_price_and_an_expanded_product() -> None:
    product = product_2026(name="Top-up")
    fields = price_fields(price_2026(product, recurring=None, type="one_time", unit_amount=500))
    assert (fields["product_id"], fields["type"], fields["interval"]) == (
        product["id"],
        "one_time",
        None,
    )
    assert (fields["interval_count"], fields["unit_amount"]) == (None, 500)


def test_a_deleted_object_is_inactive() -> None:
    assert product_fields({**product_2026(), "deleted": True})["active"] is False
    assert price_fields({**price_2026("prod_1"), "deleted": True})["active"] is False
