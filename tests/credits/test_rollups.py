"""The ledger's closed-day summaries: each settled day and each spend window holds what
the ledger's rows say, whether built at once or slid day by day, built once however many
workers run the job, and `verify_ledger` names a summary that disagrees."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, select, text, update

from billing.core.config import Settings
from billing.core.times import Clock, utcnow
from billing.credits.accounts import ADMIN_GRANT, PURCHASE, SPEND, TransactionKind
from billing.credits.rollups.checks import DAYS_CHECK, WINDOWS_CHECK
from billing.credits.rollups.jobs import DAY_TOTALS, WINDOWS, last_settled_day, roll_up
from billing.credits.rollups.models import CreditDayTotal, CreditRollup, CreditSpendWindow
from billing.credits.rollups.queries import PROMOTIONAL_NET, WALLETS_NET
from billing.credits.service import post
from billing.credits.transfers import Transfer
from billing.credits.verify import verify_ledger
from billing.db.engine import Database

# (days before today, user, kind, credits)
HISTORY: list[tuple[int, int, TransactionKind, int]] = [
    (400, 4, PURCHASE, 800),
    (370, 4, SPEND, 700),
    (40, 1, PURCHASE, 1000),
    (40, 1, SPEND, 100),
    (35, 2, ADMIN_GRANT, 500),
    (20, 2, SPEND, 200),
    (8, 1, SPEND, 300),
    (8, 3, PURCHASE, 900),
    (3, 3, SPEND, 400),
    (1, 1, SPEND, 50),
    (0, 2, SPEND, 100),
    (0, 3, SPEND, 10),
]


async def post_history(database: Database, clock: Clock) -> date:
    """HISTORY posted on its days; today's date."""
    today = utcnow().date()
    for days_ago, user, kind, amount in HISTORY:
        clock.offset = -timedelta(days=days_ago)
        await post(database, Transfer(kind, user, amount, actor="test"))
    clock.offset = timedelta(0)
    return today


async def roll_up_as_of(database: Database, clock: Clock, days: int) -> None:
    """The rollup job run `days` after the clock's present (the clock left as it was)."""
    present = clock.offset
    clock.offset = present + timedelta(days=days)
    try:
        await roll_up(database)
    finally:
        clock.offset = present


async def forget_rollups(database: Database) -> None:
    async with database.sessions() as session, session.begin():
        for model in (CreditRollup, CreditDayTotal, CreditSpendWindow):
            await session.execute(delete(model))


def expected_days(today: date, through: date) -> dict[tuple[date, str], int]:
    """Per day: each kind's credits, and what wallets and promotional grants (user 2's
    admin grant is the only one) gained less what they lost."""
    totals: Counter[tuple[date, str]] = Counter()
    for days_ago, user, kind, amount in HISTORY:
        if (day := today - timedelta(days=days_ago)) <= through:
            moved = amount if kind.credits_wallet else -amount
            totals[day, kind.name] += amount
            totals[day, WALLETS_NET] += moved
            if user == 2:
                totals[day, PROMOTIONAL_NET] += moved
    return dict(totals)


def expected_window(today: date, through: date, days: int) -> dict[int, int]:
    spent: Counter[int] = Counter()
    for days_ago, user, kind, amount in HISTORY:
        day = today - timedelta(days=days_ago)
        if kind == SPEND and through - timedelta(days=days - 1) <= day <= through:
            spent[user] += amount
    return dict(spent)


async def stored(database: Database) -> tuple[dict[str, date | None], dict, dict]:
    async with database.sessions() as session:
        through = dict(
            (await session.execute(select(CreditRollup.name, CreditRollup.through))).all()
        )
        days = {
            (row.day, row.kind): row.amount for row in await session.scalars(select(CreditDayTotal))
        }
        windows: dict[int, dict[int, int]] = {size: {} for size in WINDOWS}
        for row in await session.scalars(select(CreditSpendWindow)):
            windows[row.days][row.user_id] = row.spent
    return through, days, windows


async def failures(database: Database) -> dict[str, list[int]]:
    async with database.sessions() as session, session.begin():
        return (await verify_ledger(session)).failures


async def test_each_settled_day_and_window_holds_the_ledgers_sums(
    database: Database, clock: Clock
) -> None:
    today = await post_history(database, clock)
    await roll_up(database)
    through = last_settled_day(utcnow())
    rollups, days, windows = await stored(database)
    assert rollups == {DAY_TOTALS: through, **{f"spent:{size}": through for size in WINDOWS}}
    assert days == expected_days(today, through)
    for size in WINDOWS:
        assert windows[size] == expected_window(today, through, size), size
    assert await failures(database) == {}


async def test_windows_slid_day_by_day_equal_windows_built_at_once(
    database: Database, clock: Clock
) -> None:
    today = await post_history(database, clock)
    for days in (-400, -371, -100, -36, -30, -9, -2, -1, 0, 3):  # each a slide from the last
        await roll_up_as_of(database, clock, days)
        _, _, slid = await stored(database)
        through = last_settled_day(utcnow() + timedelta(days=days))
        for size in WINDOWS:
            assert slid[size] == expected_window(today, through, size), (days, size)
    await forget_rollups(database)
    await roll_up_as_of(database, clock, 3)
    assert (await stored(database))[2] == slid
    assert await failures(database) == {}


async def test_two_workers_build_each_rollup_once(database_url: str, clock: Clock) -> None:
    settings = Settings(_env_file=None, BILLING_ENV="development", DATABASE_URL=database_url)
    one, other = Database(settings), Database(settings)
    try:
        today = await post_history(one, clock)
        await asyncio.gather(roll_up(one), roll_up(other))
        through = last_settled_day(utcnow())
        _, days, windows = await stored(one)
        assert days == expected_days(today, through)
        assert windows[30] == expected_window(today, through, 30)
    finally:
        await one.dispose()
        await other.dispose()


@pytest.mark.ledger_tampered
async def test_verify_names_a_day_or_a_window_that_disagrees(
    database: Database, clock: Clock
) -> None:
    today = await post_history(database, clock)
    await roll_up(database)
    eight_days_ago = today - timedelta(days=8)
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(CreditDayTotal)
            .where(CreditDayTotal.day == eight_days_ago, CreditDayTotal.kind == SPEND.name)
            .values(amount=CreditDayTotal.amount + 1)
        )
        await session.execute(
            delete(CreditSpendWindow).where(
                CreditSpendWindow.days == 30, CreditSpendWindow.user_id == 3
            )
        )
    found = await failures(database)
    assert found == {DAYS_CHECK: [int(eight_days_ago.strftime("%Y%m%d"))], WINDOWS_CHECK: [3]}
    async with database.engine.begin() as connection:
        await connection.execute(text("DELETE FROM credit_rollups"))
    assert await failures(database) == {}  # nothing summarized: nothing to disagree


async def test_rollups_whose_progress_was_deleted_are_built_again(
    database: Database, clock: Clock
) -> None:
    """docs/ledger.md: deleting `credit_rollups`' rows makes the job build them afresh."""
    today = await post_history(database, clock)
    await roll_up(database)
    async with database.engine.begin() as connection:
        await connection.execute(text("DELETE FROM credit_rollups"))
    await roll_up(database)
    through = last_settled_day(utcnow())
    rollups, days, windows = await stored(database)
    assert set(rollups.values()) == {through}
    assert days == expected_days(today, through)
    assert windows[365] == expected_window(today, through, 365)
