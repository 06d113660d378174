"""A request that died after Stripe created something, retried with its key, creates
nothing new: the Stripe idempotency keys are derived from the caller's key.

The crash is staged in the database: the stored response is taken back and the
claim aged past its lock, exactly what a process killed mid-request leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy import update

from billing.core.times import utcnow
from billing.db.engine import Database
from billing.idempotency.models import IdempotencyRecord
from billing.idempotency.store import STALE_CLAIM
from tests.conftest import Credentials
from tests.support.payments import (
    fresh_user,
    intents_of,
    new_key,
    one_time_price,
    post,
    recurring_price,
    subscriptions_of,
)
from tests.support.sandbox_process import Sandbox


def _checkout(sandbox: stripe.StripeClient, user: int) -> dict[str, Any]:
    return {
        "user_id": user,
        "price_id": one_time_price(sandbox).id,
        "mode": "payment",
        "success_url": "https://app.example.com/ok",
        "cancel_url": "https://app.example.com/no",
    }


def _topup(_: stripe.StripeClient, user: int) -> dict[str, Any]:
    return {"user_id": user, "amount": 1500, "currency": "usd"}


def _subscription(sandbox: stripe.StripeClient, user: int) -> dict[str, Any]:
    price = recurring_price(sandbox).id
    return {"user_id": user, "price_id": price, "payment_method_id": "pm_card_visa"}


def _created(sandbox: stripe.StripeClient, path: str, result: dict[str, Any]) -> list[str]:
    """Every object of the kind `path` creates, for the customer of the one in `result`."""
    if path == "create-checkout-session":
        customer = sandbox.v1.checkout.sessions.retrieve(result["id"]).customer
        params = {"customer": customer, "limit": 100}
        return [s.id for s in sandbox.v1.checkout.sessions.list(params=params).data]
    if path == "create-payment-intent":
        customer = sandbox.v1.payment_intents.retrieve(result["id"]).customer
        return [i.id for i in intents_of(sandbox, customer)]
    customer = sandbox.v1.subscriptions.retrieve(result["subscription_id"]).customer
    return [s.id for s in subscriptions_of(sandbox, customer)]


async def crash_after_the_fact(database: Database, key: str) -> None:
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == key)
            .values(
                status="in_progress",
                response_status=None,
                response_body=None,
                locked_at=utcnow() - STALE_CLAIM - timedelta(seconds=1),
            )
        )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("create-checkout-session", _checkout),
        ("create-payment-intent", _topup),
        ("create-subscription", _subscription),
    ],
)
async def test_a_retry_after_a_crash_finds_the_first_object(
    stripe_client: httpx.AsyncClient,
    creds: Credentials,
    stripe_sandbox: Sandbox,
    database: Database,
    path: str,
    body: Callable[[stripe.StripeClient, int], dict[str, Any]],
) -> None:
    sandbox = stripe_sandbox.client
    user = fresh_user()
    order = body(sandbox, user)
    key = new_key()
    first = await post(stripe_client, path, order, {**creds.bearer(user), **key})
    assert first.status_code == 200, first.text
    await crash_after_the_fact(database, key["Idempotency-Key"])

    retried = await post(stripe_client, path, order, {**creds.bearer(user), **key})
    assert retried.status_code == 200, retried.text
    assert "Idempotent-Replayed" not in retried.headers  # it really ran again
    assert retried.json() == first.json()
    assert len(_created(sandbox, path, first.json())) == 1
