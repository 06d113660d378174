"""The grant a paid subscription invoice opens: source `subscription`, on the terms of its
price's (else product's) metadata `credits_expiry` (`never`, `period_end`, `<N>d`) and
`credits_priority`; malformed terms fall back to the defaults and never fail the event.
An invoice of several lines opens one grant, on the lowest priority and the earliest
expiry still ahead. A downgrade's claw-back takes from the subscription's own grant first."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billing.core.times import Clock, utcnow
from billing.credits.accounts import ADMIN_GRANT
from billing.credits.grants import GrantTerms
from billing.credits.models import CreditGrant
from billing.credits.service import post
from billing.credits.transfers import Transfer
from tests.support.event_shapes import NEW, OLD, SHAPES, event, invoice, line_item, new_id
from tests.support.handler_harness import Harness, credit_price

users = itertools.count(47_000)
DAY = 86_400


def _period(days_left: int = 29) -> tuple[int, int]:
    """A period that began a day ago (by the service's clock) and ends in `days_left` days."""
    now = int(utcnow().timestamp())
    return now - DAY, now + days_left * DAY


def _line(
    version: str, price: dict[str, Any], period: tuple[int, int], **fields: Any
) -> dict[str, Any]:
    amount = fields.pop("amount", int(price["unit_amount"]))
    line = line_item(version, price=price, quantity=1, amount=amount, **fields)
    line["period"] = {"start": period[0], "end": period[1]}
    return line


async def _paid(harness: Harness, version: str, lines: list[dict[str, Any]]) -> tuple[int, str]:
    """A new user's subscription invoice of `lines`, paid and processed: (user, invoice)."""
    user, customer = next(users), new_id("cus")
    await harness.link(user, customer)
    obj = invoice(
        version,
        customer=customer,
        subscription=new_id("sub"),
        billing_reason="subscription_cycle",
        lines=lines,
        amount_paid=max(sum(line["amount"] for line in lines), 0),
    )
    await harness.run(event(version, "invoice.paid", obj))
    assert await harness.statuses() == ["processed"] * len(await harness.events())
    return user, str(obj["id"])


def _terms(grant: CreditGrant) -> tuple[str, int, int, int]:
    return grant.source, grant.amount, grant.remaining, grant.priority


def _lifetime(grant: CreditGrant) -> timedelta | None:
    """How long after it was opened the grant expires, to the second (None: never)."""
    if grant.expires_at is None:
        return None
    return timedelta(seconds=round((grant.expires_at - grant.created_at).total_seconds()))


@pytest.mark.parametrize("version", SHAPES)
@pytest.mark.parametrize(
    ("metadata", "expires_in", "priority"),
    [
        ({}, None, 50),
        ({"credits_expiry": "never", "credits_priority": "0"}, None, 0),
        ({"credits_expiry": "period_end", "credits_priority": "100"}, "period_end", 100),
        ({"credits_expiry": "30d", "credits_priority": "20"}, timedelta(days=30), 20),
    ],
)
async def test_a_plans_credits_open_a_grant_on_its_terms(
    harness: Harness,
    version: str,
    metadata: dict[str, str],
    expires_in: timedelta | str | None,
    priority: int,
) -> None:
    plan = credit_price(harness.stripe, amount=1000, credits=700, recurring=True, metadata=metadata)
    period = _period()
    user, invoice_id = await _paid(harness, version, [_line(version, plan, period)])

    [grant] = await harness.grants(user)
    assert _terms(grant) == ("subscription", 700, 700, priority)
    assert (grant.status, grant.reference) == ("active", invoice_id)
    if expires_in is None:
        assert grant.expires_at is None
    elif expires_in == "period_end":
        assert grant.expires_at == datetime.fromtimestamp(period[1], UTC)
    else:
        assert _lifetime(grant) == expires_in
    await harness.verify()


@pytest.mark.parametrize(
    ("price_metadata", "expiry_days", "priority"),
    [
        ({}, 7, 30),  # the price says nothing: the product's terms
        ({"credits_expiry": "never"}, None, 30),  # the price's word wins, key by key
    ],
)
async def test_the_product_says_what_the_price_does_not(
    harness: Harness, price_metadata: dict[str, str], expiry_days: int | None, priority: int
) -> None:
    plan = credit_price(
        harness.stripe,
        amount=1000,
        credits=100,
        recurring=True,
        metadata=price_metadata,
        product_metadata={"credits_expiry": "7d", "credits_priority": "30"},
    )
    user, _ = await _paid(harness, NEW, [_line(NEW, plan, _period())])
    [grant] = await harness.grants(user)
    lifetime = None if expiry_days is None else timedelta(days=expiry_days)
    assert (grant.priority, _lifetime(grant)) == (priority, lifetime)


@pytest.mark.parametrize(
    "metadata",
    [
        {"credits_expiry": "monthly", "credits_priority": "101"},
        {"credits_expiry": "0d", "credits_priority": "-1"},
        {"credits_expiry": "Period_End", "credits_priority": "high"},
        {"credits_expiry": "99999999d", "credits_priority": "5.0"},
    ],
)
async def test_malformed_terms_grant_on_the_defaults(
    harness: Harness, metadata: dict[str, str]
) -> None:
    """Typed by a person in the Dashboard: never guessed at, and never a failed event."""
    plan = credit_price(harness.stripe, amount=1000, credits=400, recurring=True, metadata=metadata)
    user, _ = await _paid(harness, OLD, [_line(OLD, plan, _period())])
    [grant] = await harness.grants(user)
    assert (_terms(grant), grant.expires_at) == (("subscription", 400, 400, 50), None)
    assert await harness.balance(user) == 400


async def test_credits_that_expire_at_period_end_do_not_roll_over(
    harness: Harness, clock: Clock
) -> None:
    """Past the period's end the credits are spent by nothing and counted nowhere, swept or
    not; the next period's invoice grants the plan afresh."""
    plan = credit_price(
        harness.stripe,
        amount=1000,
        credits=500,
        recurring=True,
        metadata={"credits_expiry": "period_end"},
    )
    user, _ = await _paid(harness, NEW, [_line(NEW, plan, _period(days_left=2))])
    assert await harness.spend(user, 200)
    clock.offset = timedelta(days=3)
    assert await harness.balance(user) == 0
    assert not await harness.spend(user, 1)


@pytest.mark.parametrize("version", SHAPES)
async def test_lines_of_different_terms_open_one_grant_on_the_strictest(
    harness: Harness, version: str
) -> None:
    """Two plans and a proration left pending from a period that has just ended: one grant,
    the lowest priority, and the earliest expiry still ahead (the ended period's is not)."""
    keeps = credit_price(
        harness.stripe,
        amount=1000,
        credits=100,
        recurring=True,
        metadata={"credits_priority": "60"},
    )
    lapses = {"credits_expiry": "period_end", "credits_priority": "40"}
    monthly = credit_price(
        harness.stripe, amount=2000, credits=200, recurring=True, metadata=lapses
    )
    period, now = _period(), int(time.time())
    lines = [
        _line(version, keeps, period),
        _line(version, monthly, period),
        _line(version, monthly, (now - 10 * DAY, now - 1), amount=1000, proration=True),
    ]
    user, invoice_id = await _paid(harness, version, lines)
    [grant] = await harness.grants(user)
    assert (_terms(grant), grant.reference) == (("subscription", 400, 400, 40), invoice_id)
    assert grant.expires_at == datetime.fromtimestamp(period[1], UTC)


@pytest.mark.parametrize("version", SHAPES)
async def test_a_downgrades_claw_back_takes_from_the_subscriptions_grant_first(
    harness: Harness, version: str
) -> None:
    """A promotion (priority 10) would be spent first; the claw-back of the unused plan
    takes from the plan's grant instead, and leaves the promotion whole."""
    big = credit_price(harness.stripe, amount=6000, credits=6000, recurring=True)
    small = credit_price(harness.stripe, amount=1000, credits=1000, recurring=True)
    user, customer, sub = next(users), new_id("cus"), new_id("sub")
    await harness.link(user, customer)
    promotion = Transfer(ADMIN_GRANT, user, 1000, actor="test", grant=GrantTerms("promotion"))
    await post(harness.database, promotion)
    period = _period()
    first = [_line(version, big, period)]
    downgrade = [
        _line(version, big, period, amount=-6000, proration=True),
        _line(version, small, period, amount=1000, proration=True),
    ]
    for reason, lines, paid in (
        ("subscription_create", first, 6000),
        ("subscription_update", downgrade, 0),
    ):
        obj = invoice(
            version,
            customer=customer,
            subscription=sub,
            billing_reason=reason,
            lines=lines,
            amount_paid=paid,
        )
        await harness.run(event(version, "invoice.paid", obj))

    promo, plan = await harness.grants(user)
    assert _terms(promo) == ("promotion", 1000, 1000, 10)
    assert _terms(plan) == ("subscription", 6000, 1000, 50)
    assert await harness.balance(user) == 2000
    await harness.verify()
