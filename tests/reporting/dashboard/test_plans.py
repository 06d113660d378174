"""Plan groups of a range still open now come, on PostgreSQL, from the live subscriptions'
sums that the triggers of migration 0024 keep, plus those that started or ended in the
range: the same groups as summing the rows, whatever the subscriptions (hypothesis; among
them some that end before they start, as a mirror that saw a subscription late may store
it). On SQLite both are the rows' (its readers share no snapshot); the kept sums must
still equal a recount there."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import select

from billing.core.config import Settings
from billing.core.times import utcnow
from billing.db.engine import Database
from billing.payments.models import Subscription
from billing.payments.plan_totals import failures
from billing.reporting.dashboard.repository import (
    PlanGroup,
    Window,
    _plan_groups_from_rows,
    plan_groups,
)
from tests.reporting.dashboard.test_service import subscription
from tests.support.examples import run_examples

STATUSES = ["active", "trialing", "past_due", "canceled", "incomplete", "incomplete_expired"]
PLANS: list[tuple[Any, ...]] = [
    ("usd", 1000, "month", 1),
    ("usd", None, "month", 1),
    ("eur", 24000, "month", 3),
    ("gbp", 500, "week", 1),
    (None, None, None, None),
    ("", 700, "", 0),  # the kept sums' placeholders for NULL, as real values: one plan
]
SUBSCRIPTIONS = st.lists(
    st.tuples(
        st.sampled_from(STATUSES),
        st.sampled_from(PLANS),
        st.integers(1, 3),  # quantity
        st.integers(0, 400),  # started, days ago
        st.one_of(st.none(), st.integers(-30, 400)),  # ended, days after it started (or before)
        st.sampled_from(["keep", "end", "pause", "more", "delete"]),  # then
    ),
    max_size=12,
)
LENGTHS = (1, 7, 30, 365)


async def write(database: Database, rows: list[tuple[Any, ...]]) -> None:
    now = utcnow()
    async with database.sessions() as session, session.begin():
        added = []
        for status, plan, quantity, started, lasted, _ in rows:
            created = now - timedelta(days=started, minutes=1)
            ended = None if lasted is None else min(now, created + timedelta(days=lasted))
            added.append(subscription(created, status, ended, plan, quantity))
        session.add_all(added)
        await session.flush()
        for row, (*_, then) in zip(added, rows, strict=True):
            if then == "end" and row.ended_at is None:
                row.ended_at = now - timedelta(minutes=1)
            elif then == "pause":
                row.status = "paused"
            elif then == "more":
                row.quantity += 1
            elif then == "delete":
                await session.delete(row)


def open_windows(now: datetime) -> list[Window]:
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time(), UTC)
    return [Window(tomorrow - timedelta(days=days), tomorrow) for days in LENGTHS]


def ordered(groups: list[PlanGroup]) -> list[PlanGroup]:
    return sorted(groups, key=lambda g: (g.currency or "", g.interval or "", g.interval_count or 0))


async def compare(database: Database) -> None:
    now = utcnow()
    async with database.sessions() as session:
        for window in open_windows(now):
            kept = ordered(await plan_groups(session, window, now))
            assert kept == ordered(await _plan_groups_from_rows(session, window)), window
    async with database.sessions() as session, session.begin():
        assert await failures(session) == {}


async def written_then_read(database: Database, rows: list[tuple[Any, ...]]) -> None:
    await write(database, rows)
    await compare(database)


def test_open_ranges_read_the_kept_sums_and_agree_with_the_rows(settings: Settings) -> None:
    run_examples(settings, SUBSCRIPTIONS, written_then_read, examples=25)


async def test_a_subscription_dated_after_the_range_sends_it_to_the_rows(
    database: Database,
) -> None:
    """A test clock's subscription may end after now: live at a close still to come."""
    now = utcnow()
    async with database.sessions() as session, session.begin():
        session.add(subscription(now - timedelta(days=3), "canceled", now + timedelta(days=9)))
    window = open_windows(now)[2]
    async with database.sessions() as session:
        groups = await plan_groups(session, window, now)
        assert [(g.live_at_end, g.ended) for g in groups] == [(1, 0)]
        assert (await session.scalars(select(Subscription.ended_at))).one() is not None


async def test_one_that_ended_before_it_started_is_no_new_subscription(
    database: Database,
) -> None:
    """A mirror that saw a subscription late may store it ending before its `created_at`:
    it was live at no time in the range, on either path."""
    now = utcnow()
    async with database.sessions() as session, session.begin():
        session.add(subscription(now - timedelta(days=60)))
        session.add(subscription(now - timedelta(days=2), "canceled", now - timedelta(days=40)))
    window = open_windows(now)[2]  # the last 30 days
    async with database.sessions() as session:
        groups = await plan_groups(session, window, now)
        assert groups == await _plan_groups_from_rows(session, window)
        assert [(g.live_at_start, g.new, g.ended, g.live_at_end) for g in groups] == [(1, 0, 0, 1)]
