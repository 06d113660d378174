"""Billing time: the customer's clock (a test clock's frozen time, else now) and intervals."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from localstripe.resources import store

_STEP = {
    "day": lambda n: relativedelta(days=n),
    "week": lambda n: relativedelta(weeks=n),
    "month": lambda n: relativedelta(months=n),
    "year": lambda n: relativedelta(years=n),
}


def clock_of(customer_id: str) -> Any:
    """The test clock a customer was created on, if any."""
    customer = store.get("customer:" + customer_id)
    clock_id = getattr(customer, "test_clock", None)
    return store.get("test_helpers.test_clock:" + clock_id) if clock_id else None


def now_for(customer_id: str) -> int:
    """What time it is for this customer."""
    clock = clock_of(customer_id)
    return int(clock.frozen_time) if clock else int(time.time())


def shift(anchor: int, recurring: dict[str, Any], cycles: int) -> int:
    """anchor moved by `cycles` billing intervals, keeping the anchor's day of month."""
    start = datetime.fromtimestamp(anchor, UTC)
    step = _STEP[recurring["interval"]](recurring["interval_count"] * cycles)
    return int((start + step).timestamp())


def fraction_left(start: int, end: int, moment: int) -> float:
    """Share of the period [start, end) still to come at moment (for prorations)."""
    if end <= start:
        return 0.0
    return min(1.0, max(0.0, (end - moment) / (end - start)))


def day(moment: int) -> str:
    """`12 Mar 2026`, as Stripe dates proration lines."""
    return datetime.fromtimestamp(moment, UTC).strftime("%d %b %Y")
