"""Credit totals and top spenders over any range of days are the ledger's, whether the
rollups were never built (the ledger's rows are summed), cover the range, or cover a
window that only overlaps it (the days between are added and taken away)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.times import Clock, utcnow
from billing.credits.accounts import HOLD_CAPTURE, PURCHASE, SPEND
from billing.credits.rollups.jobs import roll_up
from billing.credits.rollups.queries import WALLETS_NET
from billing.db.engine import Database
from billing.db.statements import read_without_transaction
from billing.reporting.dashboard import ledger
from billing.reporting.dashboard.ledger import ledger_sums, top_spenders
from billing.reporting.dashboard.repository import Window
from tests.credits.test_rollups import roll_up_as_of
from tests.reporting.dashboard.test_service import post

LIMIT = 3
RANGES = 60


async def post_spends(database: Database, clock: Clock) -> list[tuple[date, int, str, int]]:
    """Six users buy, then spend on random days of the last 400 (ties on purpose: equal
    amounts); (day, user, kind, credits) of each transaction."""
    rng, today, posted = random.Random(20), utcnow().date(), []
    for user in range(1, 7):
        clock.offset = -timedelta(days=401)
        await post(database, user, PURCHASE, 100_000)
        posted.append((today - timedelta(days=401), user, PURCHASE.name, 100_000))
    for days_ago in sorted(
        (rng.choice([0, 1, 2, 6, 7, 29, 30, 31, 89, 364, 365, 399]) for _ in range(40)),
        reverse=True,
    ):
        user, amount = rng.randint(1, 6), rng.choice([100, 200, 300])
        clock.offset = -timedelta(days=days_ago)
        await post(database, user, SPEND, amount)
        posted.append((today - timedelta(days=days_ago), user, SPEND.name, amount))
    clock.offset = timedelta(0)
    return posted


def days(first: date, last: date) -> Window:
    return Window(
        datetime.combine(first, time(), UTC),
        datetime.combine(last + timedelta(days=1), time(), UTC),
    )


def expected(
    posted: list[tuple[date, int, str, int]], first: date, last: date
) -> tuple[dict[str, int], dict[str, int], list[tuple[int, int]]]:
    """The range's credits per kind, what wallets gained less what they lost on every day
    up to its last, and its top spenders."""
    kinds: Counter[str] = Counter()
    before: Counter[str] = Counter()
    spent: Counter[int] = Counter()
    for day, user, kind, amount in posted:
        if day > last:
            continue
        moved = amount if kind == PURCHASE.name else -amount
        before[WALLETS_NET] += moved
        if first <= day:
            kinds.update({kind: amount, WALLETS_NET: moved})
            if kind in (SPEND.name, HOLD_CAPTURE.name):
                spent[user] += amount
    top = sorted(spent.items(), key=lambda pair: (-pair[1], pair[0]))[:LIMIT]
    return nonzero(kinds), nonzero(before), top


def nonzero(totals: Counter[str]) -> dict[str, int]:
    return {kind: amount for kind, amount in totals.items() if amount}


def ranges(today: date) -> list[tuple[date, date]]:
    """The usual ones (the last 7, 30, 90 and 365 days, ending today or near it) and
    random ones."""
    rng, wanted = random.Random(7), []
    for length in (1, 7, 30, 31, 90, 365, 366):
        for end in (-3, -1, 0, 1):
            last = today + timedelta(days=end)
            wanted.append((last - timedelta(days=length - 1), last))
    for _ in range(RANGES):
        first = today - timedelta(days=rng.randint(0, 420))
        wanted.append((first, first + timedelta(days=rng.randint(0, 400))))
    return wanted


async def assert_the_ledgers(database: Database, posted: list[tuple[date, int, str, int]]) -> None:
    async with database.sessions() as session:
        await read_without_transaction(session)
        for first, last in ranges(utcnow().date()):
            kinds, before, top = expected(posted, first, last)
            sums = await ledger_sums(session, days(first, last), last + timedelta(days=1))
            assert (sums.in_window, sums.net_before) == (kinds, before), (first, last)
            assert await top_spenders(session, days(first, last), LIMIT) == top, (first, last)


async def test_totals_and_top_spenders_are_the_ledgers_for_any_range(
    database: Database, clock: Clock
) -> None:
    posted = await post_spends(database, clock)
    await assert_the_ledgers(database, posted)  # no rollups yet
    for as_of in (-200, -30, 0, 2):  # rollups a long way behind, close, and ahead of today
        await roll_up_as_of(database, clock, as_of)
        await assert_the_ledgers(database, posted)


async def test_a_rollup_built_today_leaves_today_to_the_ledger(database: Database) -> None:
    await post(database, 201, PURCHASE, 1000)
    await roll_up(database)
    await post(database, 201, SPEND, 300)
    today = utcnow().date()
    async with database.sessions() as session:
        await read_without_transaction(session)
        totals = {"purchase": 1000, "spend": 300, WALLETS_NET: 700}
        sums = await ledger_sums(session, days(today, today), today + timedelta(days=1))
        assert (sums.in_window, sums.net_before) == (totals, {WALLETS_NET: 700})
        assert await top_spenders(session, days(today - timedelta(days=29), today), 10) == [
            (201, 300)
        ]


async def test_a_window_slid_while_top_spenders_read_it_sends_them_to_the_ledger(
    database: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's readers run outside a transaction: the job may commit a slide between
    reading a window's last day and its rows. The answer must still be the ledger's."""
    posted = await post_spends(database, clock)
    await roll_up_as_of(database, clock, -3)
    read_through = ledger.summarized_through
    slid = False

    async def then_the_job_runs(session: AsyncSession) -> dict[str, date]:
        nonlocal slid
        found = await read_through(session)
        if not slid:
            slid = True
            await roll_up(database)
        return found

    monkeypatch.setattr(ledger, "summarized_through", then_the_job_runs)
    today = utcnow().date()
    first = today - timedelta(days=29)
    async with database.sessions() as session:
        await read_without_transaction(session)
        top = await ledger.top_spenders(session, days(first, today), LIMIT)
    assert slid
    assert top == expected(posted, first, today)[2]
