"""POST /api/stripe/create-payment-intent: top-ups whose credits the server decides."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe

from billing.core.config import Settings
from tests.conftest import Credentials, asgi_client
from tests.support.credits import assert_problem
from tests.support.payments import assert_customer_of, fresh_user, intents_of, new_key, post

PATH = "create-payment-intent"
MIN, MAX, PER_UNIT = 200, 50_000, 3


@pytest.fixture
async def http(stripe_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its own top-up rules, so the test shows they are the ones applied."""
    rules = {
        "BILLING_TOPUP_MIN": MIN,
        "BILLING_TOPUP_MAX": MAX,
        "BILLING_CREDITS_PER_UNIT": PER_UNIT,
        "BILLING_TOPUP_CURRENCIES": "usd,eur",
    }
    async with asgi_client(stripe_settings.model_copy(update=rules)) as client:
        yield client


def topup(user_id: int, amount: int = 2500, currency: str = "usd", **extra: Any) -> dict[str, Any]:
    return {"user_id": user_id, "amount": amount, "currency": currency, **extra}


async def test_the_intent_carries_server_computed_credits(
    http: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    body = topup(user, 2500, "eur", description="Credits for May")
    reply = await post(http, PATH, body, creds.bearer(user))
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["credits"] == 2500 * PER_UNIT
    intent = sandbox.v1.payment_intents.retrieve(result["id"])
    assert intent.client_secret == result["client_secret"]
    assert (intent.amount, intent.currency, intent.description) == (2500, "eur", "Credits for May")
    assert intent.metadata.to_dict() == {
        "billing_user_id": str(user),
        "billing_purpose": "topup",
        "billing_credits": str(2500 * PER_UNIT),
    }
    assert_customer_of(sandbox, intent.customer, user)

    confirmed = sandbox.v1.payment_intents.confirm(
        result["id"], params={"payment_method": "pm_card_visa"}
    )
    assert confirmed.status == "succeeded"  # the secret pays: what Stripe.js does with it


@pytest.mark.parametrize("amount", [MIN, MAX])
async def test_the_bounds_themselves_are_allowed(
    http: httpx.AsyncClient, creds: Credentials, amount: int
) -> None:
    user = fresh_user()
    reply = await post(http, PATH, topup(user, amount), creds.bearer(user))
    assert reply.status_code == 200, reply.text
    assert reply.json()["credits"] == amount * PER_UNIT


@pytest.mark.parametrize("amount", [MIN - 1, MAX + 1, 0, -500, 2**63])
async def test_amounts_outside_the_bounds_are_refused(
    http: httpx.AsyncClient, creds: Credentials, amount: int
) -> None:
    user = fresh_user()
    reply = await post(http, PATH, topup(user, amount), creds.bearer(user))
    problem = assert_problem(reply, 422, "amount_out_of_range")
    assert f"from {MIN} to {MAX}" in problem["detail"]


@pytest.mark.parametrize(
    "currency", ["USD", "jpy", "krw", "kwd", "huf", "xyz", "usdd", "", "us", "gbp", "inr"]
)
async def test_unsupported_currencies_are_refused(
    http: httpx.AsyncClient, creds: Credentials, currency: str
) -> None:
    user = fresh_user()
    reply = await post(http, PATH, topup(user, currency=currency), creds.bearer(user))
    assert_problem(reply, 422, "unsupported_currency")


@pytest.mark.parametrize("currency", ["inr", "eur", "gbp", "mxn"])
async def test_by_default_only_usd_buys_credits(
    stripe_client: httpx.AsyncClient, creds: Credentials, currency: str
) -> None:
    """One credits-per-unit rate cannot price a rupee-cent and a dollar-cent alike: a
    two-decimal currency that BILLING_TOPUP_CURRENCIES does not name is refused."""
    user = fresh_user()
    reply = await post(stripe_client, PATH, topup(user, currency=currency), creds.bearer(user))
    problem = assert_problem(reply, 422, "unsupported_currency")
    assert "BILLING_TOPUP_CURRENCIES" in problem["detail"]
    accepted = await post(stripe_client, PATH, topup(user, currency="usd"), creds.bearer(user))
    assert accepted.status_code == 200, accepted.text


@pytest.mark.parametrize(
    "change",
    [{"amount": "2500"}, {"amount": 25.5}, {"credits": 10**6}, {"metadata": {"credits": "9"}}],
)
async def test_the_client_cannot_price_credits_or_send_loose_amounts(
    http: httpx.AsyncClient, creds: Credentials, change: dict[str, Any]
) -> None:
    user = fresh_user()
    reply = await post(http, PATH, {**topup(user), **change}, creds.bearer(user))
    assert_problem(reply, 422, "validation_error")


async def test_only_the_user_or_an_admin_may_top_up(
    http: httpx.AsyncClient, creds: Credentials
) -> None:
    user = fresh_user()
    assert_problem(await post(http, PATH, topup(user), {}), 401, "unauthenticated")
    assert_problem(await post(http, PATH, topup(user), creds.bearer(user + 1)), 403, "forbidden")
    service = await post(http, PATH, topup(user), await creds.api_key("service"))
    assert_problem(service, 403, "forbidden")
    assert (await post(http, PATH, topup(user), creds.admin())).status_code == 200


async def test_a_replayed_request_creates_one_intent(
    http: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    headers = {**creds.bearer(user), **new_key()}
    first = await post(http, PATH, topup(user), headers)
    again = await post(http, PATH, topup(user), headers)
    assert first.status_code == again.status_code == 200, first.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    conflict = await post(http, PATH, topup(user, 3000), headers)
    assert_problem(conflict, 409, "idempotency_conflict")
    customer = sandbox.v1.payment_intents.retrieve(first.json()["id"]).customer
    assert [i.id for i in intents_of(sandbox, customer)] == [first.json()["id"]]


async def test_save_card_asks_stripe_to_keep_the_card_for_off_session_charges(
    http: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    saved = await post(http, PATH, topup(user, save_card=True), creds.bearer(user))
    plain = await post(http, PATH, topup(user), creds.bearer(user))
    assert sandbox.v1.payment_intents.retrieve(saved.json()["id"]).setup_future_usage == (
        "off_session"
    )
    assert sandbox.v1.payment_intents.retrieve(plain.json()["id"]).setup_future_usage is None
    refused = await post(http, PATH, topup(user, save_card="yes"), creds.bearer(user))
    assert_problem(refused, 422, "validation_error")
