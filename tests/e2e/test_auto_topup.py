"""Auto top-up end to end: a card saved by a payment-form top-up, debits that leave the
balance below the threshold, the worker's off-session charge in the sandbox, and its
credits arriving through the sandbox's signed `payment_intent.succeeded`."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import select

from billing.core.config import Settings
from billing.db.engine import Database
from billing.db.outbox import OutboxMessage
from tests.e2e.conftest import Live
from tests.support.payments import fresh_user
from tests.support.sandbox import wait_for

TERMS = {"enabled": True, "threshold": 500, "amount": 2000, "currency": "usd"}
QUIET_SECONDS = 2.5  # the worker passes every second: long enough for a wrong second top-up


def told(database_url: str, user_id: int) -> list[tuple[str, dict[str, Any]]]:
    """The messages for the platform about the user, oldest first (`topup.*` and `credits.*`)."""

    async def read() -> list[tuple[str, dict[str, Any]]]:
        database = Database(
            Settings(_env_file=None, BILLING_ENV="development", DATABASE_URL=database_url)
        )
        try:
            async with database.sessions() as session:
                rows = await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.user_id == user_id)
                    .order_by(OutboxMessage.id)
                )
                return [(row.type, json.loads(row.body)["data"]) for row in rows]
        finally:
            await database.dispose()

    return asyncio.run(read())


def topups_told(database_url: str, user_id: int) -> list[str]:
    return [type_ for type_, _ in told(database_url, user_id) if type_.startswith("topup.")]


def save_card(live: Live, user_id: int) -> str:
    """Top up 1000 with the 4242 card and `save_card`; the customer's id."""
    with live.http() as http:
        reply = http.post(
            "/api/stripe/create-payment-intent",
            json={"user_id": user_id, "amount": 1000, "currency": "usd", "save_card": True},
            headers=live.user(user_id),
        )
    assert reply.status_code == 200, reply.text
    intent = live.stripe.v1.payment_intents.confirm(
        reply.json()["id"], params={"payment_method": "pm_card_visa"}
    )
    assert intent.status == "succeeded"
    customer = str(intent.customer)
    live.wait_balance(user_id, 1000)
    wait_for(lambda: default_card(live, customer) == intent.payment_method, timeout=20)
    return customer


def default_card(live: Live, customer: str) -> str | None:
    settings = live.stripe.v1.customers.retrieve(customer).invoice_settings
    return str(settings.default_payment_method) if settings else None


def use_card(live: Live, customer: str, test_method: str) -> None:
    """Make a test card the customer's default, as the portal would."""
    method = live.stripe.v1.payment_methods.attach(test_method, {"customer": customer})
    live.stripe.v1.customers.update(
        customer, {"invoice_settings": {"default_payment_method": method.id}}
    )


def put_settings(live: Live, user_id: int, **terms: Any) -> dict[str, Any]:
    with live.http() as http:
        reply = http.put(
            f"/api/financial/credits/{user_id}/settings",
            json={"low_balance_threshold": None, "auto_topup": {**TERMS, **terms}},
            headers=live.user(user_id),
        )
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def get_settings(live: Live, user_id: int) -> dict[str, Any]:
    with live.http() as http:
        reply = http.get(f"/api/financial/credits/{user_id}/settings", headers=live.user(user_id))
    reply.raise_for_status()
    body: dict[str, Any] = reply.json()
    return body


def spend(live: Live, user_id: int, amount: int) -> None:
    with live.http() as http:
        reply = http.post(
            f"/api/financial/credits/{user_id}/spend",
            json={"amount": amount},
            headers=live.user(user_id),
        )
    assert reply.status_code == 200, reply.text


def auto_topup_intents(live: Live, customer: str) -> list[Any]:
    found = live.stripe.v1.payment_intents.list({"customer": customer, "limit": 100}).data
    return [
        intent
        for intent in found
        if intent.customer == customer
        and intent.metadata.to_dict().get("billing_purpose") == "auto_topup"
    ]


def test_debits_below_the_threshold_top_up_once_each_time_within_the_monthly_limit(
    live: Live, database_url: str
) -> None:
    user = fresh_user()
    customer = save_card(live, user)
    put_settings(live, user, monthly_limit=4000)

    with ThreadPoolExecutor(2) as pool:  # two rapid debits: 1000 -> 400, one top-up
        list(pool.map(lambda _: spend(live, user, 300), range(2)))
    live.wait_balance(user, 2400, timeout=30)
    time.sleep(QUIET_SECONDS)
    assert live.balance(user) == 2400
    [first] = auto_topup_intents(live, customer)
    assert (first.amount, first.status) == (2000, "succeeded")
    assert first.metadata.to_dict().get("billing_credits") == "2000"

    spend(live, user, 2000)  # 400 again: the second top-up, 4000 this month
    live.wait_balance(user, 2400, timeout=30)
    spend(live, user, 2000)  # a third would pass the limit: not made
    wait_for(lambda: "topup.limit_reached" in topups_told(database_url, user), timeout=30)
    spend(live, user, 100)  # and no more asking this month
    time.sleep(QUIET_SECONDS)
    assert live.balance(user) == 300
    assert len(auto_topup_intents(live, customer)) == 2
    assert topups_told(database_url, user) == [
        "topup.succeeded",
        "topup.succeeded",
        "topup.limit_reached",
    ]
    [(_, limit)] = [m for m in told(database_url, user) if m[0] == "topup.limit_reached"]
    assert (limit["monthly_limit"], limit["charged_this_month"]) == (4000, 4000)
    granted = [data for type_, data in told(database_url, user) if type_ == "credits.granted"]
    assert [data["grant"]["source"] for data in granted] == ["topup", "auto_topup", "auto_topup"]


def test_a_declined_or_unauthenticated_charge_pauses_auto_topup_until_saved_again(
    live: Live, database_url: str
) -> None:
    user = fresh_user()
    customer = save_card(live, user)
    use_card(live, customer, "pm_card_chargeDeclined")
    put_settings(live, user, monthly_limit=10_000)
    spend(live, user, 600)  # 400
    wait_for(lambda: topups_told(database_url, user) == ["topup.failed"], timeout=30)
    paused = get_settings(live, user)["auto_topup"]
    assert (paused["pause_reason"], paused["paused_at"] is not None) == ("card_declined", True)
    spend(live, user, 100)  # paused: nothing is charged
    time.sleep(QUIET_SECONDS)
    assert len(auto_topup_intents(live, customer)) == 1
    assert topups_told(database_url, user) == ["topup.failed"]

    use_card(live, customer, "pm_card_authenticationRequired")
    assert put_settings(live, user, monthly_limit=10_000)["auto_topup"]["paused_at"] is None
    spend(live, user, 100)  # 200: asks again, and authentication is required off-session
    wait_for(lambda: len(topups_told(database_url, user)) == 2, timeout=30)
    assert get_settings(live, user)["auto_topup"]["pause_reason"] == "authentication_required"

    use_card(live, customer, "pm_card_visa")
    put_settings(live, user, monthly_limit=10_000)
    spend(live, user, 100)  # 100: this time it is paid
    live.wait_balance(user, 2100, timeout=30)
    assert topups_told(database_url, user) == ["topup.failed", "topup.failed", "topup.succeeded"]
    assert live.balance(user) == 2100
