"""customer.subscription.* events keep the mirror in step, in both API shapes, whatever
order they arrive in; deleted is final."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from tests.support.event_shapes import NEW, OLD, SHAPES, event, new_id, subscription
from tests.support.handler_harness import Harness, credit_price

T0 = int(time.time()) - 3600
PERIOD = (T0, T0 + 30 * 86400)


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@pytest.mark.parametrize("version", SHAPES)
async def test_created_updated_deleted_mirror_the_subscription(
    harness: Harness, version: str
) -> None:
    price = credit_price(harness.stripe, amount=1500, credits=100, recurring=True)
    sub_id, customer = new_id("sub"), new_id("cus")

    def state(status: str, **extra: object) -> dict[str, object]:
        return subscription(
            version,
            subscription_id=sub_id,
            customer=customer,
            price=price,
            status=status,
            period=PERIOD,
            quantity=3,
            metadata={"billing_user_id": "41"},
            **extra,  # type: ignore[arg-type]
        )

    await harness.run(event(version, "customer.subscription.created", state("active"), created=T0))
    row = await harness.subscription(sub_id)
    assert row is not None
    assert (row.status, row.user_id, row.stripe_customer_id) == ("active", 41, customer)
    assert (row.price_id, row.quantity, row.unit_amount, row.currency) == (
        price["id"],
        3,
        1500,
        "usd",
    )
    assert (row.interval, row.interval_count) == ("month", 1)
    assert (row.current_period_start, row.current_period_end) == tuple(map(_at, PERIOD))

    updated = state("active", cancel_at_period_end=True)
    await harness.run(event(version, "customer.subscription.updated", updated, created=T0 + 10))
    row = await harness.subscription(sub_id)
    assert row is not None
    assert row.cancel_at_period_end is True

    ended = state("canceled", cancel_at_period_end=True, ended_at=T0 + 20)
    await harness.run(event(version, "customer.subscription.deleted", ended, created=T0 + 20))
    row = await harness.subscription(sub_id)
    assert row is not None
    assert (row.status, row.ended_at, row.state_at) == ("canceled", _at(T0 + 20), _at(T0 + 20))
    assert await harness.statuses() == ["processed"] * 3
    told = await harness.messages("subscription.")
    assert [(kind, data["user_id"], data["subscription"]["status"]) for kind, data in told] == [
        ("subscription.created", 41, "active"),
        ("subscription.updated", 41, "active"),
        ("subscription.canceled", 41, "canceled"),
    ]
    shown = told[1][1]["subscription"]
    assert (shown["id"], shown["price_id"], shown["quantity"]) == (sub_id, price["id"], 3)
    assert shown["cancel_at_period_end"] is True
    assert datetime.fromisoformat(shown["current_period_end"]) == _at(PERIOD[1])


@pytest.mark.parametrize("version", [OLD, NEW])
async def test_stale_and_post_deletion_updates_change_nothing(
    harness: Harness, version: str
) -> None:
    price = credit_price(harness.stripe, amount=1000, credits=50, recurring=True)
    sub_id, customer = new_id("sub"), new_id("cus")

    def body(event_type: str, status: str, created: int) -> bytes:
        obj = subscription(
            version,
            subscription_id=sub_id,
            customer=customer,
            price=price,
            status=status,
            period=PERIOD,
            ended_at=created if status == "canceled" else None,
        )
        return event(version, event_type, obj, created=created)

    await harness.run(
        body("customer.subscription.updated", "past_due", T0 + 10),
        body("customer.subscription.created", "incomplete", T0),  # older: refused
    )
    row = await harness.subscription(sub_id)
    assert row is not None
    assert row.status == "past_due"

    await harness.run(body("customer.subscription.deleted", "canceled", T0 + 20))
    await harness.run(body("customer.subscription.updated", "active", T0 + 30))  # after deleted
    row = await harness.subscription(sub_id)
    assert row is not None
    assert (row.status, row.state_at) == ("canceled", _at(T0 + 20))
    assert await harness.statuses() == ["processed"] * 4
    # Refused states tell nothing: the first one seen created it, then it ended.
    assert [kind for kind, _ in await harness.messages("subscription.")] == [
        "subscription.created",
        "subscription.canceled",
    ]
