"""GET /api/financial/subscriptions/{user_id}/summary: plan, renewal, credits, totals.

Subscriptions are made through the API against the sandbox; the payments and grants
that webhooks would record are recorded here with the same functions the handlers use.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import stripe

from billing.core.config import Settings
from billing.core.times import utcnow
from billing.credits import service as credits
from billing.credits.accounts import (
    PURCHASE,
    SUBSCRIPTION_CLAWBACK,
    SUBSCRIPTION_GRANT,
    TransactionKind,
)
from billing.credits.transfers import Transfer
from billing.db.engine import Database
from billing.payments import recorded_payments, subscription_mirror
from tests.conftest import Credentials, asgi_client
from tests.support.credits import assert_problem
from tests.support.payments import STRIPE, fresh_user, post, recurring_price
from tests.support.sandbox import customer_with_card
from tests.support.sandbox_process import Sandbox
from tests.support.stripe_proxy import stripe_proxy

SUMMARY = "/api/financial/subscriptions/{}/summary"


@pytest.fixture
def sandbox(stripe_sandbox: Sandbox) -> stripe.StripeClient:
    return stripe_sandbox.client


async def summary(http: httpx.AsyncClient, headers: dict[str, str], user: int) -> dict[str, Any]:
    reply = await http.get(SUMMARY.format(user), headers=headers)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


async def subscribe(
    http: httpx.AsyncClient, creds: Credentials, user: int, price: str
) -> dict[str, Any]:
    body = {"user_id": user, "price_id": price, "payment_method_id": "pm_card_visa"}
    reply = await post(http, "create-subscription", body, creds.bearer(user))
    assert reply.status_code == 200, reply.text
    created: dict[str, Any] = reply.json()
    return created


async def paid(
    database: Database, user: int, amount: int, currency: str, subscription: str | None
) -> None:
    """A payment as the handlers record it."""
    stripe_id = f"in_{uuid.uuid4().hex}" if subscription else f"pi_{uuid.uuid4().hex}"
    async with database.sessions() as session, session.begin():
        payment = recorded_payments.StripePayment(
            stripe_id=stripe_id,
            kind="invoice" if subscription else "topup",
            user_id=user,
            amount=amount,
            currency=currency,
            invoice_id=stripe_id if subscription else None,
            subscription_id=subscription,
        )
        await recorded_payments.record_success(session, payment, credits=0)


async def granted(database: Database, user: int, amount: int, kind: TransactionKind) -> None:
    transfer = Transfer(kind, user, amount, actor="stripe", reference="test")
    await credits.post(database, transfer)


async def test_a_user_without_subscriptions_has_an_empty_summary(
    stripe_client: httpx.AsyncClient, creds: Credentials
) -> None:
    user = fresh_user()
    assert await summary(stripe_client, creds.bearer(user), user) == {
        "user_id": user,
        "plan": None,
        "status": None,
        "renews_at": None,
        "ends_at": None,
        "credits_per_cycle": None,
        "totals": {"credits_granted": 0, "payments": []},
    }


async def test_the_summary_shows_the_plan_its_renewal_and_what_it_paid_and_granted(
    stripe_client: httpx.AsyncClient,
    creds: Credentials,
    sandbox: stripe.StripeClient,
    database: Database,
) -> None:
    user = fresh_user()
    price = recurring_price(sandbox, amount=1500, credits=1000)
    sub_id = (await subscribe(stripe_client, creds, user, price.id))["subscription_id"]
    for amount, currency in [(1500, "usd"), (1500, "usd"), (900, "eur")]:
        await paid(database, user, amount, currency, sub_id)
        await granted(database, user, 1000, SUBSCRIPTION_GRANT)
    await granted(database, user, 400, SUBSCRIPTION_CLAWBACK)  # a downgrade took some back
    # Not subscription money or credits, or not this user's: none of it counts.
    await paid(database, user, 5000, "usd", None)
    await granted(database, user, 5000, PURCHASE)
    await paid(database, user + 1, 1500, "usd", sub_id)
    await granted(database, user + 1, 1000, SUBSCRIPTION_GRANT)
    async with database.sessions() as session, session.begin():
        failed = recorded_payments.StripePayment(
            stripe_id=f"in_{uuid.uuid4().hex}",
            kind="invoice",
            user_id=user,
            amount=1500,
            currency="usd",
            subscription_id=sub_id,
        )
        await recorded_payments.record_failure(
            session, failed, failure_code="card_declined", failure_message="declined"
        )

    body = await summary(stripe_client, creds.bearer(user), user)
    period_end = sandbox.v1.subscriptions.retrieve(sub_id)["items"].data[0].current_period_end
    assert body["plan"] == {
        "subscription_id": sub_id,
        "price_id": price.id,
        "product_id": price.product,
        "product_name": "Top-up 1500",
        "quantity": 1,
        "currency": "usd",
        "unit_amount": 1500,
        "interval": "month",
        "interval_count": 1,
    }
    assert body["status"] == "active"
    assert datetime.fromisoformat(body["renews_at"]) == datetime.fromtimestamp(period_end, UTC)
    assert body["ends_at"] is None
    assert body["credits_per_cycle"] == 1000
    assert body["totals"] == {
        "credits_granted": 3000 - 400,
        "payments": [
            {"currency": "eur", "amount_paid": 900, "amount_refunded": 0},
            {"currency": "usd", "amount_paid": 3000, "amount_refunded": 0},
        ],
    }


async def test_a_plan_price_the_catalog_lacks_is_fetched_with_no_transaction_open(
    stripe_settings: Settings,
    creds: Credentials,
    stripe_sandbox: Sandbox,
    stripe_database: Database,
) -> None:
    """A subscription mirrored before its price: the summary fetches the price, and not
    inside its read transaction (on SQLite that would hold the write lock meanwhile)."""
    user = fresh_user()
    sandbox = stripe_sandbox.client
    price = recurring_price(sandbox, amount=900, credits=120)
    subscription = sandbox.v1.subscriptions.create(
        params={
            "customer": customer_with_card(sandbox).id,
            "items": [{"price": price.id}],
            "metadata": {"billing_user_id": str(user)},
        }
    )
    async with stripe_database.sessions() as session, session.begin():
        await subscription_mirror.apply(
            session, subscription.to_dict(), utcnow(), legacy_before=None
        )
    with stripe_proxy(stripe_sandbox.url, database_url=stripe_settings.DATABASE_URL) as proxy:
        settings = stripe_settings.model_copy(update={"STRIPE_API_BASE": proxy.url})
        async with asgi_client(settings) as http:
            body = await summary(http, creds.bearer(user), user)
    assert (body["credits_per_cycle"], body["plan"]["product_name"]) == (120, "Top-up 900")
    assert proxy.calls_in_transaction == []
    assert proxy.calls == [f"GET /v1/prices/{price.id}"]


async def test_canceling_at_period_end_turns_the_renewal_into_an_end(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    sub_id = (await subscribe(stripe_client, creds, user, recurring_price(sandbox).id))[
        "subscription_id"
    ]
    before = await summary(stripe_client, creds.bearer(user), user)
    reply = await stripe_client.delete(
        f"{STRIPE}/subscriptions/{sub_id}", headers=creds.bearer(user)
    )
    assert reply.status_code == 200, reply.text
    after = await summary(stripe_client, creds.bearer(user), user)
    assert after["status"] == "active"
    assert after["renews_at"] is None
    assert after["ends_at"] == before["renews_at"] is not None


async def test_the_plan_is_the_newest_subscription_that_has_not_ended(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    older = await subscribe(stripe_client, creds, user, recurring_price(sandbox, 1000, 100).id)
    newer = await subscribe(stripe_client, creds, user, recurring_price(sandbox, 2000, 250).id)
    assert (await summary(stripe_client, creds.admin(), user))["credits_per_cycle"] == 250

    await cancel_now(stripe_client, creds, newer["subscription_id"])
    body = await summary(stripe_client, creds.admin(), user)
    assert body["plan"]["subscription_id"] == older["subscription_id"]
    assert (body["status"], body["credits_per_cycle"]) == ("active", 100)

    await cancel_now(stripe_client, creds, older["subscription_id"])
    body = await summary(stripe_client, creds.admin(), user)
    assert (body["plan"], body["status"], body["renews_at"]) == (None, None, None)


async def cancel_now(http: httpx.AsyncClient, creds: Credentials, subscription_id: str) -> None:
    path = f"{STRIPE}/subscriptions/{subscription_id}?at_period_end=false"
    assert (await http.delete(path, headers=creds.admin())).status_code == 200


async def test_only_the_user_or_an_admin_may_read_the_summary(
    stripe_client: httpx.AsyncClient, creds: Credentials
) -> None:
    user = fresh_user()
    path = SUMMARY.format(user)
    assert_problem(await stripe_client.get(path), 401, "unauthenticated")
    assert_problem(await stripe_client.get(path, headers=creds.bearer(user + 1)), 403, "forbidden")
    service = await stripe_client.get(path, headers=await creds.api_key("service"))
    assert_problem(service, 403, "forbidden")
    assert (await stripe_client.get(path, headers=creds.admin())).status_code == 200
