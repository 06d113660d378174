"""Request times are ISO 8601 text: a number is refused, not read as a Unix time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billing.core.times import refuse_numbers


@pytest.mark.parametrize("value", [0, 1893456000, 0.5, True, "0.5", "1893456000", " 1e9 ", "-1"])
def test_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        refuse_numbers(value)


@pytest.mark.parametrize(
    "value",
    ["2030-01-01T00:00:00Z", "2030-01-01", "next week", datetime(2030, 1, 1, tzinfo=UTC), None],
)
def test_anything_else_is_left_to_the_datetime_parser(value: object) -> None:
    assert refuse_numbers(value) is value
