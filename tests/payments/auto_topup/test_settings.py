"""GET|PUT /api/financial/credits/{user_id}/settings: the low-balance threshold and the
auto top-up terms, with a clear refusal for each bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy import select

from billing.audit.models import AuditEntry
from billing.db.engine import Database
from tests.conftest import Credentials, app_database
from tests.payments.auto_topup.conftest import SETTINGS, TERMS, user_with_card
from tests.support.credits import assert_problem
from tests.support.payments import fresh_user


async def put(
    client: httpx.AsyncClient, headers: dict[str, str], user_id: int, body: dict[str, Any]
) -> httpx.Response:
    return await client.put(SETTINGS.format(user_id), json=body, headers=headers)


async def test_a_user_without_settings_has_none(
    stripe_client: httpx.AsyncClient, creds: Credentials
) -> None:
    reply = await stripe_client.get(SETTINGS.format(7), headers=creds.bearer(7))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"user_id": 7, "low_balance_threshold": None, "auto_topup": None}


async def test_settings_are_saved_whole_and_read_back(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    database = app_database(stripe_client)
    user, _ = await user_with_card(database, sandbox)
    body = {"low_balance_threshold": 250, "auto_topup": {**TERMS, "monthly_limit": 6000}}
    saved = await put(stripe_client, creds.bearer(user), user, body)
    assert saved.status_code == 200, saved.text
    expected = {
        "user_id": user,
        "low_balance_threshold": 250,
        "auto_topup": {**TERMS, "monthly_limit": 6000, "paused_at": None, "pause_reason": None},
    }
    assert saved.json() == expected
    service = await creds.api_key("service")  # the platform's backend may read them
    assert (await stripe_client.get(SETTINGS.format(user), headers=service)).json() == expected
    async with database.sessions() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "credit_settings.saved" in actions

    cleared = await put(stripe_client, creds.bearer(user), user, {})
    assert cleared.json() == {"user_id": user, "low_balance_threshold": None, "auto_topup": None}


async def test_enabling_auto_topup_needs_a_saved_card(
    stripe_client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    user = fresh_user()
    body = {"auto_topup": {**TERMS, "monthly_limit": 6000}}
    refused = await put(stripe_client, creds.bearer(user), user, body)
    assert_problem(refused, 422, "payment_method_required")
    off = {"auto_topup": {**TERMS, "enabled": False, "monthly_limit": 6000}}
    assert (await put(stripe_client, creds.bearer(user), user, off)).status_code == 200


@pytest.mark.parametrize(
    ("terms", "code"),
    [
        ({"currency": "xxx"}, "unsupported_currency"),
        ({"amount": 50}, "amount_out_of_range"),  # below BILLING_TOPUP_MIN
        ({"monthly_limit": 1999}, "amount_out_of_range"),  # not even one top-up
        ({"threshold": 0}, "validation_error"),
        ({"amount": "2000"}, "validation_error"),
        ({"surprise": 1}, "validation_error"),
    ],
)
async def test_bad_terms_are_refused(
    stripe_client: httpx.AsyncClient,
    creds: Credentials,
    terms: dict[str, Any],
    code: str,
) -> None:
    user = fresh_user()
    body = {"auto_topup": {**TERMS, "enabled": False, "monthly_limit": 6000, **terms}}
    assert_problem(await put(stripe_client, creds.bearer(user), user, body), 422, code)


async def test_only_the_user_and_admins_may_change_them(
    stripe_client: httpx.AsyncClient, creds: Credentials
) -> None:
    body = {"low_balance_threshold": 10}
    assert_problem(await put(stripe_client, creds.bearer(8), 9, body), 403, "forbidden")
    service = await creds.api_key("service")
    assert_problem(await put(stripe_client, service, 9, body), 403, "forbidden")
    assert (await put(stripe_client, creds.admin(), 9, body)).status_code == 200
    low = {"low_balance_threshold": 0}
    assert_problem(await put(stripe_client, creds.admin(), 9, low), 422, "validation_error")


async def test_a_deleted_customer_has_no_saved_card(
    stripe_client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient
) -> None:
    user, customer = await user_with_card(app_database(stripe_client), sandbox)
    sandbox.v1.customers.delete(customer)
    body = {"auto_topup": {**TERMS, "monthly_limit": 6000}}
    refused = await put(stripe_client, creds.bearer(user), user, body)
    assert_problem(refused, 422, "payment_method_required")
