"""GET /api/stripe/customer-portal and GET /api/stripe/config."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from billing.core.config import Settings
from billing.db.engine import Database
from billing.payments.models import StripeCustomer
from tests.conftest import Credentials, asgi_client
from tests.support.credits import assert_problem
from tests.support.payments import STRIPE, browse, fresh_user, new_key, post, recurring_price
from tests.support.sandbox_process import Sandbox

RETURN = "https://app.example.com/account"
NO_CODE_PORTAL = "https://billing.stripe.com/p/login/test_abc"


def portal(user: int, return_url: str = RETURN) -> str:
    return f"{STRIPE}/customer-portal?user_id={user}&return_url={return_url}"


async def test_a_portal_session_for_the_users_customer(
    stripe_client: httpx.AsyncClient, creds: Credentials, stripe_sandbox: Sandbox
) -> None:
    user = fresh_user()
    price = recurring_price(stripe_sandbox.client).id
    body = {"user_id": user, "price_id": price, "payment_method_id": "pm_card_visa"}
    subscribed = await post(stripe_client, "create-subscription", body, creds.bearer(user))
    reply = await stripe_client.get(portal(user), headers=creds.bearer(user))
    assert reply.status_code == 200, reply.text
    url = reply.json()["url"]
    assert url.startswith(f"{stripe_sandbox.url}/p/session/bps_")
    page = await browse(url)
    assert page.status_code == 200
    assert f"href='{RETURN}'" in page.text
    # The page shows the customer's plans: this one is the user's.
    assert f"data-id={subscribed.json()['subscription_id']}" in page.text
    again = await stripe_client.get(portal(user), headers=creds.admin())
    assert again.status_code == 200
    assert again.json()["url"] != url  # a new session each time


async def test_a_retried_request_gets_the_same_portal_session(
    stripe_client: httpx.AsyncClient, creds: Credentials
) -> None:
    """The session is created under a Stripe key derived from the caller's
    Idempotency-Key: a retry (say, after a dropped connection) creates no second one."""
    user = fresh_user()
    headers = {**creds.bearer(user), **new_key()}
    first = await stripe_client.get(portal(user), headers=headers)
    again = await stripe_client.get(portal(user), headers=headers)
    assert first.status_code == again.status_code == 200, first.text
    assert again.json() == first.json()
    other = await stripe_client.get(portal(user), headers={**creds.bearer(user), **new_key()})
    assert other.json() != first.json()
    elsewhere = await stripe_client.get(portal(user, "https://billing.test/back"), headers=headers)
    assert elsewhere.status_code == 200, elsewhere.text  # the key covers its parameters
    assert elsewhere.json() != first.json()


async def test_the_no_code_portal_link_needs_no_stripe_call(
    stripe_settings: Settings, creds: Credentials, database: Database
) -> None:
    user = fresh_user()
    settings = stripe_settings.model_copy(
        update={"STRIPE_CUSTOMER_PORTAL_URL": NO_CODE_PORTAL, "STRIPE_SECRET_KEY": None}
    )
    async with asgi_client(settings) as http:
        reply = await http.get(portal(user), headers=creds.bearer(user))
        refused = await http.get(
            portal(user, "https://evil.example.net/"), headers=creds.bearer(user)
        )
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"url": NO_CODE_PORTAL}
    assert_problem(refused, 422, "redirect_not_allowed")
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(StripeCustomer)) == 0


@pytest.mark.parametrize(
    "return_url",
    ["https://evil.example.net/", "javascript:alert(1)", "http://app.example.com:99@x.io/"],
)
async def test_return_urls_off_the_allowed_hosts_are_refused(
    stripe_client: httpx.AsyncClient, creds: Credentials, return_url: str
) -> None:
    user = fresh_user()
    reply = await stripe_client.get(
        f"{STRIPE}/customer-portal",
        params={"user_id": str(user), "return_url": return_url},
        headers=creds.bearer(user),
    )
    assert_problem(reply, 422, "redirect_not_allowed")


async def test_only_the_user_or_an_admin_may_open_the_portal(
    stripe_client: httpx.AsyncClient, creds: Credentials
) -> None:
    user = fresh_user()
    assert_problem(await stripe_client.get(portal(user)), 401, "unauthenticated")
    other = await stripe_client.get(portal(user), headers=creds.bearer(user + 1))
    assert_problem(other, 403, "forbidden")
    service = await stripe_client.get(portal(user), headers=await creds.api_key("service"))
    assert_problem(service, 403, "forbidden")
    for bad in ("0", "-1", "01", "abc"):
        reply = await stripe_client.get(portal(user).replace(str(user), bad), headers=creds.admin())
        assert_problem(reply, 422, "validation_error")


async def test_the_config_points_stripe_js_at_the_sandbox(
    stripe_client: httpx.AsyncClient, stripe_sandbox: Sandbox
) -> None:
    reply = await stripe_client.get(f"{STRIPE}/config")  # no credentials needed
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "publishable_key": "pk_test_sandbox",
        "portal_url": None,
        "stripe_js_url": f"{stripe_sandbox.url}/js.stripe.com/v3/",
    }
    script = await browse(reply.json()["stripe_js_url"])
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]


async def test_the_config_against_real_stripe(stripe_settings: Settings) -> None:
    settings = stripe_settings.model_copy(
        update={
            "STRIPE_API_BASE": None,
            "STRIPE_PUBLISHABLE_KEY": "pk_live_x",
            "STRIPE_CUSTOMER_PORTAL_URL": NO_CODE_PORTAL,
        }
    )
    async with asgi_client(settings) as http:
        reply = await http.get(f"{STRIPE}/config")
    assert reply.json() == {
        "publishable_key": "pk_live_x",
        "portal_url": NO_CODE_PORTAL,
        "stripe_js_url": "https://js.stripe.com/v3/",
    }
