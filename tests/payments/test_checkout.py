"""POST /api/stripe/create-checkout-session against the sandbox, on each database."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from billing.core.config import Settings
from tests.conftest import Credentials, asgi_client
from tests.support.credits import assert_problem
from tests.support.payments import (
    CARD,
    assert_customer_of,
    browse,
    fresh_user,
    new_key,
    one_time_price,
    post,
    recurring_price,
)
from tests.support.sandbox_process import Sandbox
from tests.support.stripe_proxy import stripe_proxy

SUCCESS = "https://app.example.com/done?session={CHECKOUT_SESSION_ID}"
CANCEL = "https://billing.test/cancel"


def order(user_id: int, price_id: str, mode: str = "payment", **extra: Any) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "price_id": price_id,
        "mode": mode,
        "success_url": SUCCESS,
        "cancel_url": CANCEL,
        **extra,
    }


async def pay_on_page(url: str) -> dict[str, Any]:
    """Fill in and submit the hosted checkout page, as the customer's browser would."""
    body = {"email": "buyer@example.com", "name": "Buyer", "card": CARD}
    outcome: dict[str, Any] = (await browse(f"{url}/confirm", body)).json()
    return outcome


async def test_payment_mode_session_names_the_user_everywhere(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    price = one_time_price(sandbox, amount=700)
    reply = await post(
        stripe_client,
        "create-checkout-session",
        order(user, price.id, quantity=3),
        {**creds.bearer(user), **new_key()},
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert set(body) == {"id", "url"}
    made = sandbox.v1.checkout.sessions.retrieve(body["id"])
    assert made.url == body["url"]
    assert (made.mode, made.amount_total, made.currency) == ("payment", 2100, "usd")
    assert made.client_reference_id == str(user)
    # The credits it buys, from the catalog (500 per unit), for the webhook to grant.
    assert made.metadata.to_dict() == {"billing_user_id": str(user), "billing_credits": "1500"}
    assert (made.success_url, made.cancel_url) == (SUCCESS, CANCEL)
    assert_customer_of(sandbox, made.customer, user)
    items = sandbox.v1.checkout.sessions.line_items.list(body["id"]).data
    assert [(i.price.id, i.quantity) for i in items] == [(price.id, 3)]

    assert "redirect" in await pay_on_page(body["url"])
    paid = sandbox.v1.checkout.sessions.retrieve(body["id"], params={"expand": ["payment_intent"]})
    assert paid.payment_intent.metadata.to_dict() == {"billing_user_id": str(user)}
    assert paid.payment_intent.amount == 2100


async def test_subscription_mode_passes_the_user_to_the_subscription(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    price = recurring_price(sandbox, amount=1200)
    reply = await post(
        stripe_client,
        "create-checkout-session",
        order(user, price.id, "subscription"),
        creds.bearer(user),
    )
    assert reply.status_code == 200, reply.text
    assert "redirect" in await pay_on_page(reply.json()["url"])
    done = sandbox.v1.checkout.sessions.retrieve(
        reply.json()["id"], params={"expand": ["subscription"]}
    )
    assert done.mode == "subscription"
    assert done.metadata.to_dict() == {"billing_user_id": str(user)}  # its invoices grant credits
    assert done.subscription.metadata.to_dict() == {"billing_user_id": str(user)}
    assert done.subscription.customer == done.customer
    assert done.subscription["items"].data[0].price.id == price.id
    assert_customer_of(sandbox, done.customer, user)


async def test_an_admin_may_open_checkout_for_a_user(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    reply = await post(
        stripe_client,
        "create-checkout-session",
        order(user, one_time_price(sandbox).id),
        creds.admin(),
    )
    assert reply.status_code == 200, reply.text
    made = sandbox.v1.checkout.sessions.retrieve(reply.json()["id"])
    assert_customer_of(sandbox, made.customer, user)


async def test_unknown_inactive_and_mismatched_prices_are_refused(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    headers = creds.bearer(user)
    once, monthly = one_time_price(sandbox), recurring_price(sandbox)
    retired = one_time_price(sandbox)
    sandbox.v1.prices.update(retired.id, params={"active": False})
    archived = one_time_price(sandbox)
    sandbox.v1.products.update(archived.product, params={"active": False})
    cases = [
        (order(user, "price_doesnotexist"), "unknown_price"),
        (order(user, retired.id), "price_inactive"),
        (order(user, archived.id), "price_inactive"),
        (order(user, monthly.id, "payment"), "price_mode_mismatch"),
        (order(user, once.id, "subscription"), "price_mode_mismatch"),
    ]
    for body, code in cases:
        reply = await post(stripe_client, "create-checkout-session", body, headers)
        assert_problem(reply, 422, code)


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("success_url", "https://evil.example.net/done"),
        ("cancel_url", "https://billing.test.evil.example.net/"),
        ("success_url", "javascript:alert(1)//billing.test"),
        ("success_url", "ftp://billing.test/done"),
        ("cancel_url", "https://billing.test@evil.example.net/"),
        ("cancel_url", "https://evil.example.net\\@billing.test/"),
        ("success_url", "//billing.test/done"),
    ],
)
async def test_redirects_off_the_allowed_hosts_are_refused(
    stripe_client: httpx.AsyncClient,
    creds: Credentials,
    sandbox: stripe.StripeClient,
    field: str,
    url: str,
) -> None:
    user = fresh_user()
    body = order(user, one_time_price(sandbox).id, **{field: url})
    reply = await post(stripe_client, "create-checkout-session", body, creds.bearer(user))
    problem = assert_problem(reply, 422, "redirect_not_allowed")
    assert field in problem["detail"]


async def test_without_allowed_hosts_only_a_loopback_own_host_is_allowed(
    stripe_settings: Settings, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    """Development without BILLING_ALLOWED_REDIRECT_HOSTS: the request's Host stands in
    only when it is this machine; a caller's `Host: evil.example.net` allows nothing."""
    user = fresh_user()
    price = one_time_price(sandbox)
    settings = stripe_settings.model_copy(update={"BILLING_ALLOWED_REDIRECT_HOSTS": ""})
    headers = creds.bearer(user)

    async def attempt(host: str, base: str) -> httpx.Response:
        own = {"success_url": f"{base}/ok", "cancel_url": f"{base}/no"}
        body = order(user, price.id, **own)
        return await post(http, "create-checkout-session", body, {**headers, "Host": host})

    async with asgi_client(settings) as http:
        others = await post(http, "create-checkout-session", order(user, price.id), headers)
        spoofed = await attempt("evil.example.net", "https://evil.example.net")
        named = await attempt("billing.test", "https://billing.test")
        local = await attempt("localhost:8000", "http://localhost:8000")
    assert_problem(others, 422, "redirect_not_allowed")  # app.example.com is not ours
    assert_problem(spoofed, 422, "redirect_not_allowed")
    assert_problem(named, 422, "redirect_not_allowed")  # not loopback: configure the hosts
    assert local.status_code == 200, local.text


async def test_credits_come_from_the_price_else_its_product_else_none(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    product = sandbox.v1.products.create(params={"name": "Pack", "metadata": {"credits": "40"}})
    by_product = sandbox.v1.prices.create(
        params={"currency": "usd", "unit_amount": 300, "product": product.id}
    )
    plain = one_time_price(sandbox, credits=None)
    for price, quantity, credits in [(by_product, 2, "80"), (plain, 3, "0")]:
        body = order(user, price.id, quantity=quantity)
        reply = await post(stripe_client, "create-checkout-session", body, creds.bearer(user))
        assert reply.status_code == 200, reply.text
        made = sandbox.v1.checkout.sessions.retrieve(reply.json()["id"])
        assert made.metadata.to_dict() == {"billing_user_id": str(user), "billing_credits": credits}


@pytest.mark.parametrize("path", ["create-checkout-session", "create-subscription"])
async def test_a_price_the_mirror_lacks_is_fetched_with_no_transaction_open(
    stripe_settings: Settings,
    creds: Credentials,
    sandbox: stripe.StripeClient,
    stripe_sandbox: Sandbox,
    path: str,
) -> None:
    """A Stripe call inside a transaction would hold SQLite's write lock (or a PostgreSQL
    transaction) for as long as Stripe takes: the database is checked at every call."""
    user = fresh_user()
    if path == "create-subscription":
        price = recurring_price(sandbox)
        body = {"user_id": user, "price_id": price.id, "payment_method_id": "pm_card_visa"}
    else:
        price = one_time_price(sandbox, amount=400, credits=70)
        body = order(user, price.id)
    with stripe_proxy(stripe_sandbox.url, database_url=stripe_settings.DATABASE_URL) as proxy:
        settings = stripe_settings.model_copy(update={"STRIPE_API_BASE": proxy.url})
        async with asgi_client(settings) as http:
            reply = await post(http, path, body, creds.bearer(user))
    assert reply.status_code == 200, reply.text
    assert f"GET /v1/prices/{price.id}" in proxy.calls  # not mirrored yet: fetched
    assert len(proxy.calls) >= 3  # the price, the customer, the session or subscription
    assert proxy.calls_in_transaction == []


@pytest.mark.parametrize(
    "change",
    [
        {"quantity": 0},
        {"quantity": 101},
        {"quantity": "2"},
        {"mode": "setup"},
        {"amount": 100},
        {"user_id": "12"},
    ],
)
async def test_malformed_orders_are_validation_errors(
    stripe_client: httpx.AsyncClient, creds: Credentials, change: dict[str, Any]
) -> None:
    user = fresh_user()
    body = {**order(user, "price_123"), **change}
    reply = await post(stripe_client, "create-checkout-session", body, creds.admin())
    assert_problem(reply, 422, "validation_error")


async def test_only_the_user_or_an_admin_may_open_checkout(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    body = order(user, one_time_price(sandbox).id)
    assert_problem(
        await post(stripe_client, "create-checkout-session", body, {}), 401, "unauthenticated"
    )
    other = await post(stripe_client, "create-checkout-session", body, creds.bearer(user + 1))
    assert_problem(other, 403, "forbidden")
    service = await post(
        stripe_client, "create-checkout-session", body, await creds.api_key("service")
    )
    assert_problem(service, 403, "forbidden")


async def test_a_replayed_request_opens_one_session(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    body = order(user, one_time_price(sandbox).id)
    headers = {**creds.bearer(user), **new_key()}
    first = await post(stripe_client, "create-checkout-session", body, headers)
    again = await post(stripe_client, "create-checkout-session", body, headers)
    assert first.status_code == again.status_code == 200, first.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    customer = sandbox.v1.checkout.sessions.retrieve(first.json()["id"]).customer
    listed = sandbox.v1.checkout.sessions.list(params={"customer": customer, "limit": 100}).data
    assert [s.id for s in listed] == [first.json()["id"]]

    fresh = await post(stripe_client, "create-checkout-session", body, creds.bearer(user))
    assert fresh.json()["id"] != first.json()["id"]  # without a key, each request is new
