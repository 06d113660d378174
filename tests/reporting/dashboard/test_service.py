"""GET /api/financial/admin/dashboard against a dataset whose every figure is worked out by
hand below, on SQLite and PostgreSQL.

Payments, subscriptions and inbox events are inserted as rows with chosen timestamps,
several on the range's edges; the ledger is posted through the ledger's own service, so
its transactions are dated now. The range is ten UTC days, D0 = today - 8 to D9 =
tomorrow, so the ledger's postings fall inside it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import httpx
from sqlalchemy import event as sqlalchemy_event

from billing.core.times import utcnow
from billing.credits import service as credits
from billing.credits.accounts import (
    ADMIN_GRANT,
    DISPUTE_REINSTATEMENT,
    EXPIRY,
    PURCHASE,
    REFUND_CLAWBACK,
    SPEND,
    SUBSCRIPTION_CLAWBACK,
    SUBSCRIPTION_GRANT,
    TransactionKind,
)
from billing.credits.transfers import Transfer
from billing.db.engine import Database
from billing.payments.models import Payment, Subscription
from billing.webhooks.models import WebhookEvent
from tests.conftest import Credentials

DASHBOARD = "/api/financial/admin/dashboard"
MICROSECOND = timedelta(microseconds=1)
NO_CREDITS = {
    "issued": 0,
    "spent": 0,
    "expired": 0,
    "clawed_back": 0,
    "outstanding": 0,
    "voided": 0,
    "liability": {"paid": 0, "promotional": 0, "held": 0},
    "breakage": {"paid": 0, "promotional": 0},
}
_ids = itertools.count(1)


async def get_dashboard(
    http: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> dict[str, Any]:
    reply = await http.get(DASHBOARD, params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def payment(
    at: datetime,
    amount: int,
    currency: str = "usd",
    status: str = "succeeded",
    refunded: int = 0,
    disputed: int = 0,
) -> Payment:
    return Payment(
        stripe_id=f"pi_dash_{next(_ids)}",
        kind="topup",
        status=status,
        user_id=1,
        amount=amount,
        currency=currency,
        credits=0,
        amount_refunded=refunded,
        amount_disputed=disputed,
        credits_clawed_back=0,
        credits_unrecovered=0,
        created_at=at,
        updated_at=at,
    )


def subscription(
    created: datetime,
    status: str = "active",
    ended: datetime | None = None,
    plan: tuple[str, int | None, str, int] = ("usd", 1000, "month", 1),
    quantity: int = 1,
) -> Subscription:
    currency, unit_amount, interval, interval_count = plan
    return Subscription(
        stripe_subscription_id=f"sub_dash_{next(_ids)}",
        user_id=1,
        stripe_customer_id="cus_dash",
        status=status,
        price_id="price_dash",
        product_id="prod_dash",
        quantity=quantity,
        currency=currency,
        unit_amount=unit_amount,
        interval=interval,
        interval_count=interval_count,
        cancel_at_period_end=False,
        canceled_at=ended,
        ended_at=ended,
        created_at=created,
        state_at=created,
        updated_at=created,
    )


def event(received: datetime, status: str, lag_seconds: float | None = None) -> WebhookEvent:
    processed = None if lag_seconds is None else received + timedelta(seconds=lag_seconds)
    return WebhookEvent(
        stripe_event_id=f"evt_dash_{next(_ids)}",
        type="invoice.paid",
        api_version="2024-06-20",
        livemode=False,
        created=received,
        payload={},
        status=status,
        attempts=0 if status == "pending" else 1,
        next_attempt_at=received,
        last_error=None,
        received_at=received,
        processed_at=processed,
    )


async def insert(database: Database, rows: list[Any]) -> None:
    async with database.sessions() as session, session.begin():
        session.add_all(rows)


async def post(database: Database, user: int, kind: TransactionKind, amount: int) -> None:
    await credits.post(database, Transfer(kind, user, amount, actor="test"))


def dataset(first: date) -> list[Any]:
    """The rows of the hand-worked example; S is D0's midnight, E the midnight after D9."""
    start = midnight(first)
    end = start + timedelta(days=10)

    def day(n: int, hours: float = 0) -> datetime:
        return start + timedelta(days=n, hours=hours)

    last_instant = end - MICROSECOND
    plus_one = timezone(timedelta(hours=1))
    payments = [
        payment(start, 1000),  # D0 usd, the range's first instant
        payment(day(0, 12), 2500, refunded=500),  # D0 usd
        # D2 usd by the UTC day: 00:30 on D3 at +01:00 is 23:30 on D2 in UTC
        payment(datetime.combine(first + timedelta(days=3), time(0, 30), plus_one), 50),
        payment(day(3, 10), 4000, refunded=1000, disputed=4000),  # D3 usd, reversed capped: 4000
        payment(day(4) - MICROSECOND, 900, "eur", refunded=900),  # D3 eur, fully refunded
        payment(day(9), 600),  # D9 usd
        payment(day(1), 300, status="failed"),
        payment(day(5), 1500, status="failed"),
        payment(last_instant, 700, "eur", status="failed"),  # the range's last instant
        # outside the range: just before and exactly at its end
        payment(start - MICROSECOND, 99_999),
        payment(end, 88_888),
        payment(end, 5000, status="failed"),
    ]
    subscriptions = [
        subscription(day(-30)),  # A: usd 1000/month, live throughout
        subscription(day(-100), plan=("usd", 12_000, "year", 1)),  # B: 1000/month
        subscription(day(-60), "canceled", day(4), quantity=2),  # C: ends on D4
        subscription(day(2), plan=("usd", 700, "week", 1)),  # D: new; 700*52/12 a month
        subscription(day(6), "trialing", plan=("usd", 5000, "month", 1)),  # E: new, not paying
        subscription(day(1), "incomplete_expired"),  # F: never started
        subscription(day(1), "incomplete"),  # G: not started (yet)
        subscription(day(1), "canceled", day(7), plan=("eur", 900, "month", 3)),  # H: new, ends
        subscription(day(-10), "past_due", plan=("eur", 3000, "month", 3)),  # I: 1000 eur/month
        subscription(end, plan=("usd", 100, "day", 3)),  # J: created at E, outside
        subscription(day(-40), "canceled", start),  # K: ends at S, the first instant
        subscription(day(-20), "canceled", end, plan=("usd", 300, "month", 1)),  # L: ends at E
        subscription(day(-50), "canceled", start - MICROSECOND),  # M: ended before the range
        subscription(day(-5), plan=("usd", None, "month", 1)),  # N: metered, no unit amount
        subscription(day(-400), plan=("usd", 1000, "year", 1)),  # O: 1000/12 a month
        subscription(day(-3), plan=("usd", 10, "day", 1)),  # P: 10*365/12 a month
    ]
    events = [
        event(start, "processed", 0.5),
        event(day(1), "processed", 1.0),
        event(day(2), "processed", 2.0),
        event(day(3), "ignored", 4.0),
        event(day(4), "failed"),
        event(day(5), "dead"),
        event(last_instant, "pending"),
        event(day(8), "processed", 10.0),
        event(start - MICROSECOND, "processed", 100.0),  # outside
        event(end, "processed", 100.0),  # outside
    ]
    return payments + subscriptions + events


async def post_ledger(database: Database) -> None:
    """User 101: +5000 purchase, -1200 -300 spends, -500 expiry: holds 3000.
    User 102: +3000 subscription grant, -2000 spend, -400 clawback, +100 given back (a won
    dispute), -100 taken back by a downgrade: holds 600.
    User 103: +1000 admin grant, -1000 spend: holds 0.
    User 104: +1500 purchase, -1500 spend: holds 0 (ties with 101 on spend)."""
    for user, kind, amount in [
        (101, PURCHASE, 5000),
        (101, SPEND, 1200),
        (101, SPEND, 300),
        (101, EXPIRY, 500),
        (102, SUBSCRIPTION_GRANT, 3000),
        (102, SPEND, 2000),
        (102, REFUND_CLAWBACK, 400),
        (102, DISPUTE_REINSTATEMENT, 100),
        (102, SUBSCRIPTION_CLAWBACK, 100),
        (103, ADMIN_GRANT, 1000),
        (103, SPEND, 1000),
        (104, PURCHASE, 1500),
        (104, SPEND, 1500),
    ]:
        await post(database, user, kind, amount)


async def test_every_figure_matches_the_hand_worked_dataset(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    today = utcnow().date()
    first, last = today - timedelta(days=8), today + timedelta(days=1)
    await insert(database, dataset(first))
    await post_ledger(database)

    def d(n: int) -> str:
        return (first + timedelta(days=n)).isoformat()

    body = await get_dashboard(
        client, creds.admin(), **{"from": first.isoformat(), "to": last.isoformat()}
    )
    assert body["range"] == {"from": first.isoformat(), "to": last.isoformat()}
    # Succeeded payments by UTC day; refunded = refunded + disputed, at most the amount.
    assert body["revenue"]["daily"] == [
        {"date": d(0), "currency": "usd", "gross": 3500, "refunded": 500, "net": 3000},
        {"date": d(2), "currency": "usd", "gross": 50, "refunded": 0, "net": 50},
        {"date": d(3), "currency": "eur", "gross": 900, "refunded": 900, "net": 0},
        {"date": d(3), "currency": "usd", "gross": 4000, "refunded": 4000, "net": 0},
        {"date": d(9), "currency": "usd", "gross": 600, "refunded": 0, "net": 600},
    ]
    # usd: 3500 + 50 + 4000 + 600 = 8150 gross, 500 + 4000 = 4500 refunded.
    assert body["revenue"]["by_currency"] == [
        {"currency": "eur", "gross": 900, "refunded": 900, "net": 0},
        {"currency": "usd", "gross": 8150, "refunded": 4500, "net": 3650},
    ]
    # 6 succeeded, 3 failed (the last one at the range's last instant): 3 / 9.
    assert body["payments"] == {"succeeded": 6, "failed": 3, "failure_rate": 0.3333}
    # Live at S: A B C I K L N O P = 9. New: D E H = 3 (F, G never started; J at E).
    # Ended in [S, E): C H K = 3 (L ends at E, M before S). Live at E: 9 + 3 - 3 = 9
    # (A B D E I L N O P). Churn: 3 / (9 + 3).
    assert body["subscriptions"] == {"active": 9, "new": 3, "canceled": 3, "churn_rate": 0.25}
    # Paying at E (live, not trialing, with a unit amount): usd A 1000 + B 12000/12 + D
    # 700*52/12 + L 300 + O 1000/12 + P 10*365/12 = 5720 5/6 -> 5721; ARR 12 x 5720 5/6 =
    # 68650. eur: I 3000 every 3 months = 1000; ARR 12000.
    assert body["recurring"] == [
        {"currency": "eur", "mrr": 1000, "arr": 12_000},
        {"currency": "usd", "mrr": 5721, "arr": 68_650},
    ]
    # Issued 5000 + 3000 + 1000 + 1500 + 100 (given back); spent 1200 + 300 + 2000 + 1000
    # + 1500.
    assert body["credits"] == {
        "issued": 10_600,
        "spent": 6000,
        "expired": 500,
        "clawed_back": 500,
        "outstanding": 3600,  # 3000 + 600 + 0 + 0 = 10600 - 6000 - 500 - 500
        "voided": 0,
        "liability": {"paid": 3600, "promotional": 0, "held": 0},  # 103's admin grant spent
        "breakage": {"paid": 500, "promotional": 0},  # 101's expiry took from its purchase
    }
    assert body["top_users"] == [
        {"user_id": 102, "spent": 2000},
        {"user_id": 101, "spent": 1500},  # ties with 104: the lower id first
        {"user_id": 104, "spent": 1500},
        {"user_id": 103, "spent": 1000},
    ]
    # Lags of the processed or ignored: 0.5 1 2 4 10. p50 at position 0.5 x 4 = 2 -> 2;
    # p95 at 0.95 x 4 = 3.8 -> 4 + 0.8 x (10 - 4) = 8.8.
    assert body["webhooks"] == {
        "received": 8,
        "processed": 4,
        "failed": 1,
        "dead": 1,
        "ignored": 1,
        "pending": 1,
        "lag_p50_seconds": 2.0,
        "lag_p95_seconds": 8.8,
    }


async def test_a_single_day_holds_all_of_that_utc_day_and_nothing_else(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    first = utcnow().date() - timedelta(days=8)
    await insert(database, dataset(first))
    one_day = {"from": first.isoformat(), "to": first.isoformat()}
    body = await get_dashboard(client, creds.admin(), **one_day)
    # D0: 1000 at 00:00:00 and 2500 (500 refunded) at 12:00; the 99999 a microsecond
    # earlier belongs to the day before.
    assert body["revenue"]["by_currency"] == [
        {"currency": "usd", "gross": 3500, "refunded": 500, "net": 3000}
    ]
    assert body["payments"] == {"succeeded": 2, "failed": 0, "failure_rate": 0.0}
    # K ends at D0's first instant: live when the day opens, ended within it.
    # Live at the end of D0: A B C I L N O P = 8 (K ended); none new.
    assert body["subscriptions"] == {"active": 8, "new": 0, "canceled": 1, "churn_rate": 0.1111}
    assert body["webhooks"]["received"] == 1
    assert body["webhooks"]["lag_p50_seconds"] == body["webhooks"]["lag_p95_seconds"] == 0.5

    day_before = (first - timedelta(days=1)).isoformat()
    before = await get_dashboard(client, creds.admin(), **{"from": day_before, "to": day_before})
    assert before["revenue"]["by_currency"] == [
        {"currency": "usd", "gross": 99_999, "refunded": 0, "net": 99_999}
    ]
    assert before["webhooks"]["received"] == 1


async def test_outstanding_credits_are_those_held_at_the_end_of_the_range(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    await post_ledger(database)  # all of it today
    today = utcnow().date()
    yesterday = (today - timedelta(days=1)).isoformat()
    before = await get_dashboard(client, creds.admin(), **{"to": yesterday})
    # The wallets hold 3600 now, but held nothing before today.
    assert before["credits"] == NO_CREDITS
    assert before["top_users"] == []
    now = await get_dashboard(client, creds.admin(), **{"to": today.isoformat()})
    assert now["credits"]["outstanding"] == 3600


async def test_an_empty_database_gives_zeros_and_no_lag(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    body = await get_dashboard(client, creds.admin())
    assert body["revenue"] == {"by_currency": [], "daily": []}
    assert body["recurring"] == []
    assert body["subscriptions"] == {"active": 0, "new": 0, "canceled": 0, "churn_rate": 0.0}
    assert body["payments"] == {"succeeded": 0, "failed": 0, "failure_rate": 0.0}
    assert body["credits"] == NO_CREDITS
    assert body["top_users"] == []
    assert body["webhooks"] == {
        "received": 0,
        "processed": 0,
        "failed": 0,
        "dead": 0,
        "ignored": 0,
        "pending": 0,
        "lag_p50_seconds": None,
        "lag_p95_seconds": None,
    }


async def test_a_call_runs_the_statements_an_earlier_one_built(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    """Built once, not per call: building them cost more of a call's Python than the rest."""
    await insert(database, dataset(utcnow().date() - timedelta(days=8)))
    await post_ledger(database)
    calls: list[list[object]] = []

    def record(_connection: object, statement: object, *_: object) -> None:
        calls[-1].append(statement)

    sqlalchemy_event.listen(database.engine.sync_engine, "before_execute", record)
    try:
        for _ in range(2):
            calls.append([])
            await get_dashboard(client, creds.admin())
    finally:
        sqlalchemy_event.remove(database.engine.sync_engine, "before_execute", record)
    first, second = calls[-2:]
    assert len(second) >= 8, second  # every lane ran
    assert {id(statement) for statement in second} <= {id(statement) for statement in first}
