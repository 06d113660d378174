"""Direct subscriptions: create (cards, 3-D Secure, declines), cancel, list the mirror."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy import update

from billing.core.config import Settings
from billing.db.engine import Database
from billing.payments.models import Subscription
from tests.conftest import Credentials, asgi_client
from tests.payments.test_retries import crash_after_the_fact
from tests.support.credits import assert_problem
from tests.support.payments import (
    CARD_3DS,
    CARD_DECLINED,
    STRIPE,
    assert_customer_of,
    card,
    fresh_user,
    new_key,
    one_time_price,
    post,
    recurring_price,
    subscriptions_of,
)

PATH = "create-subscription"


def intent_of(sandbox: stripe.StripeClient, client_secret: str) -> Any:
    """The payment intent a client secret unlocks, as Stripe.js finds it."""
    return sandbox.v1.payment_intents.retrieve(client_secret.partition("_secret_")[0])


async def subscribe(
    http: httpx.AsyncClient, headers: dict[str, str], user: int, price: str, **extra: Any
) -> httpx.Response:
    return await post(http, PATH, {"user_id": user, "price_id": price, **extra}, headers)


async def mirrored(http: httpx.AsyncClient, creds: Credentials, user: int) -> list[dict[str, Any]]:
    reply = await http.get(f"{STRIPE}/subscriptions/{user}", headers=creds.bearer(user))
    assert reply.status_code == 200, reply.text
    data: list[dict[str, Any]] = reply.json()
    return data


async def test_a_saved_card_pays_the_first_invoice_and_the_mirror_follows(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    price = recurring_price(sandbox, amount=1500)
    reply = await subscribe(
        stripe_client, creds.bearer(user), user, price.id, payment_method_id="pm_card_visa"
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["status"] == "active"
    assert body["client_secret"] is None
    sub = sandbox.v1.subscriptions.retrieve(
        body["subscription_id"], params={"expand": ["latest_invoice"]}
    )
    assert sub.status == "active"
    assert sub.metadata.to_dict() == {"billing_user_id": str(user)}
    assert sub["items"].data[0].price.id == price.id
    assert sub.latest_invoice.amount_paid == 1500
    assert_customer_of(sandbox, sub.customer, user)
    customer = sandbox.v1.customers.retrieve(sub.customer)
    assert customer.invoice_settings.default_payment_method == sub.default_payment_method
    assert sub.default_payment_method is not None

    [view] = await mirrored(stripe_client, creds, user)
    assert view["id"] == sub.id
    assert (view["status"], view["price_id"], view["product_id"]) == (
        "active",
        price.id,
        price.product,
    )
    assert (view["unit_amount"], view["currency"], view["interval"]) == (1500, "usd", "month")
    assert view["quantity"] == 1
    assert view["cancel_at_period_end"] is False
    assert view["current_period_end"] > view["current_period_start"]


async def test_without_a_card_the_client_secret_lets_stripe_js_pay(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    reply = await subscribe(stripe_client, creds.bearer(user), user, recurring_price(sandbox).id)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["status"] == "incomplete"
    intent = intent_of(sandbox, body["client_secret"])
    assert intent.client_secret == body["client_secret"]
    assert intent.status == "requires_payment_method"
    sandbox.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert sandbox.v1.subscriptions.retrieve(body["subscription_id"]).status == "active"
    [view] = await mirrored(stripe_client, creds, user)
    assert view["status"] == "incomplete"  # until the webhook says otherwise


@pytest.mark.parametrize("api_version", [None, "2023-10-16"])
async def test_a_3d_secure_card_returns_the_secret_to_authenticate(
    stripe_settings: Settings,
    creds: Credentials,
    sandbox: stripe.StripeClient,
    api_version: str | None,
) -> None:
    """Both API shapes: `confirmation_secret` (2025-03-31 on) and `payment_intent` before."""
    user = fresh_user()
    settings = stripe_settings.model_copy(update={"STRIPE_API_VERSION": api_version})
    async with asgi_client(settings) as http:
        reply = await subscribe(
            http,
            creds.bearer(user),
            user,
            recurring_price(sandbox).id,
            payment_method_id=card(sandbox, CARD_3DS),
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["status"] == "incomplete"
        intent = intent_of(sandbox, body["client_secret"])
        assert intent.status == "requires_action"
        assert intent.next_action.type == "use_stripe_sdk"
        assert [v["status"] for v in await mirrored(http, creds, user)] == ["incomplete"]


async def test_a_declined_card_is_402_and_leaves_no_open_subscription(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    headers = {**creds.bearer(user), **new_key()}
    price = recurring_price(sandbox).id
    method = card(sandbox, CARD_DECLINED)
    reply = await subscribe(stripe_client, headers, user, price, payment_method_id=method)
    problem = assert_problem(reply, 402, "card_declined")
    assert problem["decline_code"] == "generic_decline"
    customer = sandbox.v1.payment_methods.retrieve(method).customer
    assert_customer_of(sandbox, customer, user)
    assert [s.status for s in subscriptions_of(sandbox, customer)] == ["canceled"]
    assert [v["status"] for v in await mirrored(stripe_client, creds, user)] == ["canceled"]
    again = await subscribe(stripe_client, headers, user, price, payment_method_id=method)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == problem
    assert len(subscriptions_of(sandbox, customer)) == 1


async def test_a_retried_decline_mirrors_what_its_first_attempt_canceled(
    stripe_client: httpx.AsyncClient,
    creds: Credentials,
    sandbox: stripe.StripeClient,
    database: Database,
) -> None:
    """The first attempt canceled the declined subscription in Stripe, then died before
    the mirror or the response was stored. Its retry finds it canceled already (Stripe
    refuses to cancel twice) and mirrors that, rather than leaving it incomplete here."""
    user = fresh_user()
    key = new_key()
    headers = {**creds.bearer(user), **key}
    price, method = recurring_price(sandbox).id, card(sandbox, CARD_DECLINED)
    first = await subscribe(stripe_client, headers, user, price, payment_method_id=method)
    assert_problem(first, 402, "card_declined")
    [view] = await mirrored(stripe_client, creds, user)
    await crash_after_the_fact(database, key["Idempotency-Key"])
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(Subscription)
            .where(Subscription.stripe_subscription_id == view["id"])
            .values(status="incomplete", ended_at=None)
        )

    retried = await subscribe(stripe_client, headers, user, price, payment_method_id=method)
    assert "Idempotent-Replayed" not in retried.headers  # it really ran again
    assert_problem(retried, 402, "card_declined")
    assert [v["status"] for v in await mirrored(stripe_client, creds, user)] == ["canceled"]


async def test_prices_that_are_not_recurring_and_for_sale_are_refused(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    retired = recurring_price(sandbox)
    sandbox.v1.prices.update(retired.id, params={"active": False})
    for price, code in [
        ("price_doesnotexist", "unknown_price"),
        (retired.id, "price_inactive"),
        (one_time_price(sandbox).id, "price_mode_mismatch"),
    ]:
        reply = await subscribe(stripe_client, creds.bearer(user), user, price)
        assert_problem(reply, 422, code)


async def test_only_the_user_or_an_admin_may_subscribe(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    price = recurring_price(sandbox).id
    assert_problem(await subscribe(stripe_client, {}, user, price), 401, "unauthenticated")
    other = await subscribe(stripe_client, creds.bearer(user + 1), user, price)
    assert_problem(other, 403, "forbidden")
    admin = await subscribe(stripe_client, creds.admin(), user, price)
    assert admin.status_code == 200, admin.text
    sub = sandbox.v1.subscriptions.retrieve(admin.json()["subscription_id"])
    assert sub.metadata.to_dict() == {"billing_user_id": str(user)}


async def test_a_replayed_request_creates_one_subscription(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    headers = {**creds.bearer(user), **new_key()}
    price = recurring_price(sandbox).id
    first = await subscribe(stripe_client, headers, user, price, payment_method_id="pm_card_visa")
    again = await subscribe(stripe_client, headers, user, price, payment_method_id="pm_card_visa")
    assert first.status_code == again.status_code == 200, first.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    customer = sandbox.v1.subscriptions.retrieve(first.json()["subscription_id"]).customer
    assert [s.id for s in subscriptions_of(sandbox, customer)] == [first.json()["subscription_id"]]


async def start_paid(
    http: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient, user: int
) -> str:
    reply = await subscribe(
        http,
        creds.bearer(user),
        user,
        recurring_price(sandbox).id,
        payment_method_id="pm_card_visa",
    )
    assert reply.status_code == 200, reply.text
    subscription_id: str = reply.json()["subscription_id"]
    return subscription_id


async def cancel(
    http: httpx.AsyncClient, headers: dict[str, str], subscription_id: str, query: str = ""
) -> httpx.Response:
    return await http.delete(f"{STRIPE}/subscriptions/{subscription_id}{query}", headers=headers)


@pytest.mark.parametrize("query", ["", "?at_period_end=true"])
async def test_cancel_at_period_end_keeps_it_active_until_then(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient, query: str
) -> None:
    user = fresh_user()
    subscription_id = await start_paid(stripe_client, creds, sandbox, user)
    reply = await cancel(stripe_client, creds.bearer(user), subscription_id, query)
    assert reply.status_code == 200, reply.text
    view = reply.json()
    assert (view["id"], view["status"], view["cancel_at_period_end"]) == (
        subscription_id,
        "active",
        True,
    )
    assert view["ended_at"] is None
    sub = sandbox.v1.subscriptions.retrieve(subscription_id)
    assert (sub.status, sub.cancel_at_period_end) == ("active", True)
    assert sub.cancel_at == sub["items"].data[0].current_period_end
    assert await mirrored(stripe_client, creds, user) == [view]


async def test_cancel_now_ends_it_and_a_second_cancel_changes_nothing(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    subscription_id = await start_paid(stripe_client, creds, sandbox, user)
    reply = await cancel(stripe_client, creds.bearer(user), subscription_id, "?at_period_end=false")
    assert reply.status_code == 200, reply.text
    view = reply.json()
    assert view["status"] == "canceled"
    assert view["ended_at"] is not None
    assert sandbox.v1.subscriptions.retrieve(subscription_id).status == "canceled"
    twice = await cancel(stripe_client, creds.bearer(user), subscription_id, "?at_period_end=true")
    assert twice.status_code == 200
    assert twice.json() == view
    assert await mirrored(stripe_client, creds, user) == [view]


async def test_cancel_now_of_one_stripe_already_ended_answers_as_the_first_did(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    """A retried DELETE whose first attempt canceled it in Stripe and died before the
    mirror was written: Stripe refuses a second cancel, so its state is read and mirrored."""
    user = fresh_user()
    subscription_id = await start_paid(stripe_client, creds, sandbox, user)
    sandbox.v1.subscriptions.cancel(subscription_id)
    headers = {**creds.bearer(user), **new_key()}
    reply = await cancel(stripe_client, headers, subscription_id, "?at_period_end=false")
    assert reply.status_code == 200, reply.text
    assert (reply.json()["status"], reply.json()["ended_at"] is not None) == ("canceled", True)
    assert await mirrored(stripe_client, creds, user) == [reply.json()]


async def test_only_the_subscriber_or_an_admin_may_cancel(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    subscription_id = await start_paid(stripe_client, creds, sandbox, user)
    assert_problem(await cancel(stripe_client, {}, subscription_id), 401, "unauthenticated")
    other = await cancel(stripe_client, creds.bearer(user + 1), subscription_id)
    assert_problem(other, 403, "forbidden")
    service = await cancel(stripe_client, await creds.api_key("service"), subscription_id)
    assert_problem(service, 403, "forbidden")
    assert sandbox.v1.subscriptions.retrieve(subscription_id).cancel_at_period_end is False
    unknown = await cancel(stripe_client, creds.admin(), "sub_doesnotexist")
    assert_problem(unknown, 404, "not_found")
    admin = await cancel(stripe_client, creds.admin(), subscription_id, "?at_period_end=false")
    assert admin.json()["status"] == "canceled"


async def test_listing_is_for_the_user_or_an_admin(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user = fresh_user()
    first = await start_paid(stripe_client, creds, sandbox, user)
    second = await start_paid(stripe_client, creds, sandbox, user)
    path = f"{STRIPE}/subscriptions/{user}"
    by_admin = await stripe_client.get(path, headers=creds.admin())
    assert [v["id"] for v in by_admin.json()] == [second, first]
    assert_problem(await stripe_client.get(path), 401, "unauthenticated")
    assert_problem(await stripe_client.get(path, headers=creds.bearer(user + 1)), 403, "forbidden")


async def test_an_unknown_payment_method_is_422_not_a_stripe_failure(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    """Stripe has no such payment method: the caller named it (it was a 502 stripe_error)."""
    user = fresh_user()
    reply = await subscribe(
        stripe_client,
        creds.bearer(user),
        user,
        recurring_price(sandbox).id,
        payment_method_id="pm_doesnotexist",
    )
    assert_problem(reply, 422, "unknown_payment_method")
    assert await mirrored(stripe_client, creds, user) == []
