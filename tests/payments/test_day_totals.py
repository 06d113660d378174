"""`payment_day_totals` follows every write to `payments`, through the triggers of
migration 0023: inserts, refunds, disputes, a status or a day changed, deletes, in any
order (hypothesis), on both databases; and verify-ledger names a day whose totals
disagree with its payments."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import delete, select, text, update

from billing.core.config import Settings
from billing.db.engine import Database
from billing.payments.day_totals import CHECK, failures, rebuild
from billing.payments.models import Payment, PaymentDayTotal
from tests.reporting.dashboard.test_service import payment
from tests.support.examples import run_examples

START = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)  # near midnight: hours move the UTC day
Op = tuple[str, int, int]
OPS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "fail", "refund", "dispute", "status", "move", "delete"]),
        st.integers(0, 1_000),
        st.integers(1, 5_000),
    ),
    max_size=25,
)
_ids = count()


def figures(row: Payment) -> tuple[date, str, str, int, int]:
    """The group key and (amount, reversed) a payment adds."""
    taken_back = min(row.amount_refunded + row.amount_disputed, row.amount)
    return row.created_at.astimezone(UTC).date(), row.currency, row.status, row.amount, taken_back


async def apply(database: Database, ops: list[Op]) -> None:
    async with database.sessions() as session, session.begin():
        for kind, pick, amount in ops:
            rows = list(await session.scalars(select(Payment).order_by(Payment.id)))
            if kind in ("insert", "fail") or not rows:
                at = START + timedelta(hours=pick % 72)
                currency = "usd" if pick % 3 else "eur"
                status = "failed" if kind == "fail" else "succeeded"
                session.add(payment(at, amount, currency, status))
                await session.flush()
                continue
            row = rows[pick % len(rows)]
            if kind == "refund":
                row.amount_refunded = min(row.amount, row.amount_refunded + amount)
            elif kind == "dispute":
                row.amount_disputed = row.amount
            elif kind == "status":
                row.status = "failed" if row.status == "succeeded" else "succeeded"
            elif kind == "move":
                row.created_at = row.created_at + timedelta(hours=amount % 50)
            else:
                await session.delete(row)
            await session.flush()


async def stored_and_expected(database: Database) -> tuple[dict[Any, Any], dict[Any, Any]]:
    async with database.sessions() as session:
        kept = {
            (row.day, row.currency, row.status): (row.count, row.amount, row.reversed)
            for row in await session.scalars(select(PaymentDayTotal))
            if row.count
        }
        sums: Counter[tuple[Any, ...]] = Counter()
        for row in await session.scalars(select(Payment)):
            day, currency, status, amount, reversed_ = figures(row)
            for name, value in (("count", 1), ("amount", amount), ("reversed", reversed_)):
                sums[day, currency, status, name] += value
    keys = {key[:3] for key in sums}
    expected = {
        k: (sums[(*k, "count")], sums[(*k, "amount")], sums[(*k, "reversed")]) for k in keys
    }
    return kept, expected


async def check(database: Database) -> dict[str, list[int]]:
    async with database.sessions() as session, session.begin():
        return await failures(session)


async def writes_in_any_order(database: Database, ops: list[Op]) -> None:
    await apply(database, ops)
    kept, expected = await stored_and_expected(database)
    assert kept == expected
    assert await check(database) == {}


def test_day_totals_follow_every_write(settings: Settings) -> None:
    run_examples(settings, OPS, writes_in_any_order, examples=30)


async def test_verify_names_a_day_that_disagrees_and_a_rebuild_mends_it(
    database: Database,
) -> None:
    async with database.sessions() as session, session.begin():
        session.add(payment(START, 1000))
        session.add(payment(START + timedelta(days=1), 500, status="failed"))
    async with database.engine.begin() as connection:
        await connection.execute(text("UPDATE payment_day_totals SET amount = amount + 1"))
    assert await check(database) == {CHECK: [20260301, 20260302]}
    async with database.engine.begin() as connection:  # and one with no payments behind it
        await connection.execute(
            text(
                "INSERT INTO payment_day_totals (day, currency, status, count, amount, reversed)"
                " VALUES ('2026-03-05', 'usd', 'succeeded', 0, 500, 0)"
            )
        )
    assert await check(database) == {CHECK: [20260301, 20260302, 20260305]}
    async with database.sessions() as session, session.begin():
        await session.execute(delete(PaymentDayTotal))
        await session.execute(update(Payment).values(amount_refunded=100))  # triggers: -, +
    assert await check(database) != {}  # deleted totals: the payments' are missing
    async with database.sessions() as session, session.begin():
        await rebuild(session)
    assert await check(database) == {}
