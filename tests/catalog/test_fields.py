"""Reading Stripe objects: credits from metadata are plain positive integers or nothing;
their terms (`credits_expiry`, `credits_priority`) are one of the written forms or nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from billing.catalog.fields import (
    MAX_CREDITS,
    NEVER,
    PERIOD_END,
    CreditsExpiry,
    credits_from,
    metadata_value,
    parse_credits,
    parse_expiry,
    parse_priority,
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


GRANTED, PERIOD_ENDS = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)


def test_the_expiry_forms_and_when_each_expires() -> None:
    assert parse_expiry("never") == NEVER
    assert NEVER.at(GRANTED, PERIOD_ENDS) is None
    assert parse_expiry("period_end") == PERIOD_END
    assert PERIOD_END.at(GRANTED, PERIOD_ENDS) == PERIOD_ENDS
    assert PERIOD_END.at(GRANTED, None) is None  # a line without a period: never
    assert parse_expiry("45d") == CreditsExpiry(days=45)
    assert CreditsExpiry(days=45).at(GRANTED, PERIOD_ENDS) == GRANTED + timedelta(days=45)
    assert parse_expiry("36500d") == CreditsExpiry(days=36_500)


@given(st.text(max_size=12))
@example("0d")
@example("36501d")
@example("30")
@example("30 d")
@example("30D")
@example("-3d")
@example("Never")
@example("period-end")
@example("\uff13d")  # a full-width digit
def test_any_other_expiry_is_refused(text: str) -> None:
    days = re.fullmatch(r"([0-9]{1,5})d", text, flags=re.ASCII)
    if text in ("never", "period_end") or (days and 0 < int(days[1]) <= 36_500):
        return
    assert parse_expiry(text) is None


@given(st.integers(0, 100))
def test_every_priority_from_0_to_100_is_read(priority: int) -> None:
    assert parse_priority(str(priority)) == priority


@given(st.one_of(st.text(max_size=6), st.integers(), st.none()))
@example("101")
@example("-1")
@example("5.0")
@example(" 5")
@example("0005")
def test_any_other_priority_is_refused(value: object) -> None:
    plain = isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}", value, flags=re.ASCII)
    if not (plain and int(str(value)) <= 100):
        assert parse_priority(value) is None


def test_malformed_terms_are_logged() -> None:
    bad = {"id": "price_1", "object": "price", "metadata": {"credits_expiry": "monthly"}}
    with capture_logs() as logs:
        assert metadata_value(bad, "credits_expiry", parse_expiry) is None
        assert metadata_value(bad, "credits_priority", parse_priority) is None  # absent
    assert [(log["event"], log["key"], log["value"]) for log in logs] == [
        ("catalog_credits_invalid", "credits_expiry", "monthly")
    ]
