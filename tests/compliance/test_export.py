"""Export: all of a user's payment data as one JSON document, to the user or an admin."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from billing.compliance.export import open_export
from billing.core.config import Settings
from billing.core.correlation import HEADER
from billing.core.times import Clock, utcnow
from billing.db.engine import Database
from billing.payments import recorded_payments
from billing.payments.auto_topup.models import AutoTopup
from billing.payments.models import Subscription
from billing.runtime.cli import app
from tests.compliance.privacy import EXPORT, customer_with_contact
from tests.conftest import Credentials, asgi_client
from tests.support.contact_events import AMOUNT, CREDITS, Customer, deliver, process
from tests.support.credits import add, spend
from tests.support.database_text import occurrences

USER, OTHER = 301, 302


def subscription(user_id: int, stripe_id: str) -> Subscription:
    now = utcnow()
    return Subscription(
        stripe_subscription_id=stripe_id,
        user_id=user_id,
        stripe_customer_id=f"cus_test{user_id}",
        status="active",
        price_id="price_pro",
        product_id="prod_pro",
        quantity=1,
        currency="usd",
        unit_amount=5000,
        interval="month",
        interval_count=1,
        current_period_start=now,
        current_period_end=now,
        cancel_at_period_end=False,
        created_at=now,
        state_at=now,
        updated_at=now,
    )


async def seed(database: Database, settings: Settings) -> None:
    """Two payments (one failed), a subscription and a customer for USER; some for OTHER."""
    await customer_with_contact(database, settings, USER, "ada@example.com", "Ada Lovelace")
    await customer_with_contact(database, settings, OTHER, "bob@example.com", "Bob")
    async with database.sessions() as session, session.begin():
        for stripe_id, user_id in (("pi_a", USER), ("pi_other", OTHER)):
            payment = recorded_payments.StripePayment(
                stripe_id, "topup", user_id, 1000, "usd", stripe_id
            )
            await recorded_payments.record_success(session, payment, credits=0)
        failed = recorded_payments.StripePayment(
            "in_b", "invoice", USER, 5000, "usd", invoice_id="in_b"
        )
        await recorded_payments.record_failure(
            session, failed, failure_code="card_declined", failure_message="declined"
        )
        session.add_all([subscription(USER, "sub_mine"), subscription(OTHER, "sub_other")])
        session.add_all([auto_topup(USER, "pi_auto_mine"), auto_topup(OTHER, "pi_auto_other")])


@pytest.fixture
async def seeded(
    client: httpx.AsyncClient, database: Database, settings: Settings, creds: Credentials
) -> httpx.AsyncClient:
    await seed(database, settings)
    admin = creds.admin()
    assert (await add(client, admin, USER, 500, reason="welcome")).status_code == 200
    traced = {**creds.bearer(USER), HEADER: "trace-export"}
    assert (await spend(client, traced, USER, 120)).status_code == 200
    assert (await add(client, admin, OTHER, 70)).status_code == 200
    threshold = {"low_balance_threshold": 50}
    put = await client.put(f"/api/financial/credits/{USER}/settings", json=threshold, headers=admin)
    assert put.status_code == 200, put.text
    return client


def auto_topup(user_id: int, intent: str) -> AutoTopup:
    now = utcnow()
    return AutoTopup(
        user_id=user_id,
        status="succeeded",
        amount=2000,
        currency="usd",
        credits=2000,
        payment_intent_id=intent,
        created_at=now,
        updated_at=now,
    )


def without_time(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "generated_at"}


async def test_the_export_holds_the_users_customer_payments_subscriptions_ledger_and_audit(
    seeded: httpx.AsyncClient, creds: Credentials
) -> None:
    response = await seeded.get(f"{EXPORT}/{USER}", headers=creds.bearer(USER))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert "attachment" in response.headers["content-disposition"]
    export = response.json()
    assert export["user_id"] == USER
    customer = export["customer"]
    assert (customer["email"], customer["name"]) == ("ada@example.com", "Ada Lovelace")
    assert (customer["stripe_customer_id"], customer["erased_at"]) == (f"cus_test{USER}", None)

    payments = export["payments"]
    assert [(p["stripe_id"], p["status"], p["amount"]) for p in payments] == [
        ("pi_a", "succeeded", 1000),
        ("in_b", "failed", 5000),
    ]
    assert payments[1]["failure_code"] == "card_declined"
    assert [s["stripe_subscription_id"] for s in export["subscriptions"]] == ["sub_mine"]
    assert export["credit_settings"] == {"low_balance_threshold": 50, "auto_topup": None}
    assert [(t["payment_intent_id"], t["status"]) for t in export["auto_topups"]] == [
        ("pi_auto_mine", "succeeded")
    ]

    grant, spent = export["credit_transactions"]
    assert (grant["kind"], grant["amount"], grant["description"]) == ("admin_grant", 500, "welcome")
    assert grant["entries"] == [
        {"account": "wallet", "amount": 500, "balance_after": 500},
        {"account": "grants", "amount": -500, "balance_after": None},
    ]
    assert (spent["kind"], spent["amount"]) == ("spend", 120)
    assert spent["entries"] == [
        {"account": "wallet", "amount": -120, "balance_after": 380},
        {"account": "usage", "amount": 120, "balance_after": None},
    ]
    assert "idempotency_key" not in grant
    assert "fingerprint" not in grant

    audit = export["audit_entries"]
    actions = [entry["action"] for entry in audit]
    assert actions.index("credit.admin_grant") < actions.index("credit.spend")  # oldest first
    assert {entry["user_id"] for entry in audit} == {USER}
    assert [entry["id"] for entry in audit] == sorted(entry["id"] for entry in audit)
    [spent_entry] = [entry for entry in audit if entry["action"] == "credit.spend"]
    assert spent_entry["caller_request_id"] == "trace-export"
    assert re.fullmatch("[0-9a-f]{32}", spent_entry["request_id"])  # the server's own
    assert "bob" not in response.text.lower()
    assert "pi_other" not in response.text


async def test_the_export_holds_the_balance_and_the_grants_as_the_user_is_shown_them(
    seeded: httpx.AsyncClient, creds: Credentials, clock: Clock
) -> None:
    admin, user = creds.admin(), creds.bearer(USER)  # minted before the clock moves
    soon, later = utcnow() + timedelta(days=1), utcnow() + timedelta(days=10)
    await add(seeded, admin, USER, 30, expires_at=soon.isoformat(), source="promotion")
    await add(seeded, admin, USER, 20, expires_at=later.isoformat())

    async def export() -> dict[str, Any]:
        response = await seeded.get(f"{EXPORT}/{USER}", headers=user)
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    def expiring(document: dict[str, Any]) -> list[tuple[int, datetime]]:
        return [
            (soonest["amount"], datetime.fromisoformat(soonest["expires_at"]))
            for soonest in document["credit_balance"]["expiring"]
        ]

    def grants(document: dict[str, Any]) -> list[tuple[str, int, int, str]]:
        return [
            (g["source"], g["amount"], g["remaining"], g["status"])
            for g in document["credit_grants"]
        ]

    before = await export()
    assert (before["credit_balance"]["balance"], before["credit_balance"]["held"]) == (430, 0)
    assert expiring(before) == [(30, soon), (20, later)]
    assert grants(before) == [
        ("admin", 500, 380, "active"),  # the welcome grant, less the spend of 120
        ("promotion", 30, 30, "active"),
        ("admin", 20, 20, "active"),
    ]
    assert {g["user_id"] for g in before["credit_grants"]} == {USER}

    clock.offset = timedelta(days=2)  # the promotion lapsed; the expiry job has not run
    after = await export()
    assert after["credit_balance"]["balance"] == 400
    assert expiring(after) == [(20, later)]
    assert grants(after)[1] == ("promotion", 30, 0, "expired")


async def test_a_paged_export_is_the_same_document(
    seeded: httpx.AsyncClient, database: Database, settings: Settings, creds: Credentials
) -> None:
    async def document(page_size: int) -> dict[str, Any]:
        chunks = await open_export(database, settings, USER, page_size=page_size)
        parsed: dict[str, Any] = orjson.loads(b"".join([chunk async for chunk in chunks]))
        return without_time(parsed)

    whole = await document(500)
    assert len(whole["payments"]) == 2
    assert len(whole["credit_transactions"]) == 2
    assert len(whole["credit_grants"]) == 1
    assert await document(1) == whole
    assert await document(2) == whole


async def test_an_unknown_user_exports_an_empty_document(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    response = await client.get(f"{EXPORT}/999", headers=creds.admin())
    assert response.status_code == 200
    assert without_time(response.json()) == {
        "user_id": 999,
        "customer": None,
        "credit_balance": {
            "user_id": 999,
            "balance": 0,
            "updated_at": None,
            "held": 0,
            "expiring": [],
        },
        "credit_settings": {"low_balance_threshold": None, "auto_topup": None},
        "payments": [],
        "subscriptions": [],
        "auto_topups": [],
        "credit_grants": [],
        "credit_transactions": [],
        "audit_entries": [],
    }


@pytest.mark.parametrize(
    ("caller", "status"),
    [("self", 200), ("admin", 200), ("other user", 403), ("service", 403), ("nobody", 401)],
)
async def test_only_the_user_and_admins_may_export(
    client: httpx.AsyncClient, creds: Credentials, caller: str, status: int
) -> None:
    headers = {
        "self": creds.bearer(USER),
        "admin": creds.admin(),
        "other user": creds.bearer(OTHER),
        "service": await creds.api_key("service"),
        "nobody": {},
    }[caller]
    response = await client.get(f"{EXPORT}/{USER}", headers=headers)
    assert response.status_code == status, response.text
    if status != 200:
        assert response.json()["code"] == {401: "unauthenticated", 403: "forbidden"}[status]


def test_the_export_command_writes_the_same_document(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    async def prepare_and_read() -> dict[str, Any]:
        database = Database(settings)
        await seed(database, settings)
        chunks = await open_export(database, settings, USER)
        expected: dict[str, Any] = orjson.loads(b"".join([chunk async for chunk in chunks]))
        await database.dispose()
        return expected

    expected = without_time(asyncio.run(prepare_and_read()))
    env = {
        "DATABASE_URL": database_url,
        "BILLING_DATA_DIR": str(tmp_path),
        "BILLING_ENV": "development",
    }
    result = CliRunner().invoke(app, ["export", "--user", str(USER)], env=env)
    assert result.exit_code == 0, result.output
    assert without_time(orjson.loads(result.stdout)) == expected
    assert expected["customer"]["email"] == "ada@example.com"

    target = tmp_path / "export.json"
    result = CliRunner().invoke(
        app, ["export", "--user", str(USER), "--output", str(target)], env=env
    )
    assert result.exit_code == 0, result.output
    assert without_time(orjson.loads(target.read_bytes())) == expected


async def test_details_stored_only_encrypted_come_out_in_clear_in_the_export(
    settings: Settings,
) -> None:
    """A customer's details reach the service in its webhook events; the database holds
    them encrypted only, and the export gives them back decrypted."""
    secret = "whsec_export"
    buyer = Customer(user_id=USER)
    app_settings = settings.model_copy(update={"STRIPE_WEBHOOK_SECRET": SecretStr(secret)})
    async with asgi_client(app_settings) as http:
        database: Database = http._transport.app.state.database  # type: ignore[attr-defined]
        await deliver(http, secret, *buyer.paying())
        await process(database, app_settings)
        assert await occurrences(database, *buyer.person.traces()) == []

        response = await http.get(
            f"{EXPORT}/{USER}", headers=Credentials(app_settings, database).bearer(USER)
        )

    assert response.status_code == 200, response.text
    export = response.json()
    customer = export["customer"]
    assert (customer["stripe_customer_id"], customer["email"], customer["name"]) == (
        buyer.customer_id,
        buyer.person.email,
        buyer.person.name,
    )
    assert [(p["amount"], p["credits"], p["status"]) for p in export["payments"]] == [
        (AMOUNT, CREDITS, "succeeded")
    ]
