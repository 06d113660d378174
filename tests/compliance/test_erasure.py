"""Erasure: personal data gone here and at Stripe, money and ledger kept, audited."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy import func, select

from billing.audit.models import AuditEntry
from billing.compliance.erasure import ERASED
from billing.compliance.personal_data import remember_contact
from billing.core.config import Settings
from billing.credits.models import CreditTransaction
from billing.credits.verify import verify_ledger
from billing.db.engine import Database
from billing.payments import recorded_payments
from billing.payments.customers import customer_id_for, ensure_customer, user_for_customer
from billing.stripe.client import create_client, require_client
from billing.webhooks.models import WebhookEvent
from tests.compliance.privacy import EXPORT, stored_row, webhook_event, without_payload
from tests.conftest import WEBHOOK_SECRET, Credentials, asgi_client
from tests.support.contact_events import AMOUNT, CREDITS, Customer, deliver, process
from tests.support.credits import add, balance
from tests.support.database_text import occurrences
from tests.support.payments import assert_customer_of, one_time_price, post
from tests.support.sandbox_process import Sandbox


def erase_path(user_id: int) -> str:
    return f"/api/users/{user_id}/personal-data"


@pytest.fixture
def user() -> int:
    """A user id new to the sandbox, which lives (with its idempotency keys) for the run."""
    return 10_000 + secrets.randbelow(10**9)


@pytest.fixture
def api(stripe_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return stripe_client


@pytest.fixture
def db(api: httpx.AsyncClient) -> Database:
    transport = api._transport
    assert isinstance(transport, httpx.ASGITransport)
    found: Database = transport.app.state.database  # type: ignore[attr-defined]
    return found


@pytest.fixture
def admin(stripe_settings: Settings, db: Database) -> Credentials:
    return Credentials(stripe_settings, db)


async def customer_at_stripe(db: Database, settings: Settings, user_id: int) -> str:
    """A real (sandbox) customer for the user, with email and name stored here."""
    client = require_client(create_client(settings))
    async with db.sessions() as session:
        customer_id = await ensure_customer(session, client, user_id)
    async with db.sessions() as session, session.begin():
        assert await remember_contact(session, settings, user_id, "ada@example.com", "Ada L")
    return customer_id


def stripe_has(client: stripe.StripeClient, customer_id: str) -> bool:
    """False once Stripe deleted the customer (the sandbox forgets it; Stripe marks it)."""
    try:
        customer = client.v1.customers.retrieve(customer_id)
    except stripe.InvalidRequestError as exc:
        if exc.code == "resource_missing":
            return False
        raise
    return not customer.to_dict().get("deleted")


async def inbox(db: Database, *events: WebhookEvent) -> list[int]:
    async with db.sessions() as session, session.begin():
        session.add_all(events)
        await session.flush()
        return [event.id for event in events]


async def objects(db: Database, ids: list[int]) -> list[dict[str, Any]]:
    """The stored `data.object` of each of these inbox rows, in that order."""
    async with db.sessions() as session:
        rows = await session.scalars(select(WebhookEvent).where(WebhookEvent.id.in_(ids)))
        payloads = {row.id: row.payload for row in rows}
    return [(payloads[row_id] or {})["data"]["object"] for row_id in ids]


async def count(db: Database, query: Any) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(query) or 0)


async def test_erasure_deletes_the_customer_keeps_the_money_and_is_audited(
    user: int,
    api: httpx.AsyncClient,
    db: Database,
    stripe_settings: Settings,
    admin: Credentials,
    stripe_sandbox: Sandbox,
) -> None:
    customer_id = await customer_at_stripe(db, stripe_settings, user)
    async with db.sessions() as session, session.begin():
        payment = recorded_payments.StripePayment(
            "pi_erase", "topup", user, 2500, "usd", "pi_erase"
        )
        await recorded_payments.record_success(session, payment, credits=0)
    assert (await add(api, admin.admin(), user, 900)).status_code == 200
    about_customer = {"object": "customer", "id": customer_id, "email": "ada@example.com"}
    charge = {
        "object": "charge",
        "customer": customer_id,
        "amount": 2500,
        "billing_details": {"name": "Ada L", "email": None},
    }
    checkout = {"object": "checkout.session", "client_reference_id": str(user), "amount": 5}
    someone_else = {"object": "customer", "id": "cus_someone_else", "email": "bo@example.com"}
    scrubbed_ids = await inbox(
        db,
        webhook_event("processed", obj=about_customer),
        webhook_event("ignored", obj=charge),
        webhook_event("pending", obj=charge),  # still due: its handler keeps the amounts
    )
    kept_ids = await inbox(
        db,
        webhook_event("dead", obj=checkout),  # the user's, with nothing personal in it
        webhook_event("processed", obj=someone_else),
    )
    ledger_before = await count(db, select(func.count()).select_from(CreditTransaction))

    response = await api.delete(
        erase_path(user), headers={**admin.admin(), "Idempotency-Key": f"erase-{user}"}
    )

    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary | {"erased_at": None} == {
        "user_id": user,
        "stripe_customer_id": customer_id,
        "stripe_customer": "deleted",
        "fields_erased": ["email", "name"],
        "webhook_payloads_erased": 3,  # those that held personal data
        "erased_at": None,
        "payments_kept": 1,
        "subscriptions_kept": 0,
        "credit_transactions_kept": 1,
    }
    assert summary["erased_at"] is not None
    assert not stripe_has(stripe_sandbox.client, customer_id)

    row = await stored_row(db, user)
    assert (row.email_encrypted, row.name_encrypted, row.email_lookup) == (None, None, None)
    assert row.erased_at is not None
    assert row.stripe_customer_id == customer_id
    assert await without_payload(db, scrubbed_ids + kept_ids) == set()
    assert await objects(db, scrubbed_ids + kept_ids) == [
        {**about_customer, "email": None},
        {**charge, "billing_details": None},
        {**charge, "billing_details": None},
        checkout,
        someone_else,
    ]
    assert await count(db, select(func.count()).select_from(CreditTransaction)) == ledger_before
    assert await balance(api, admin.admin(), user) == 900
    async with db.sessions() as session, session.begin():
        assert (await verify_ledger(session)).ok

    export = (await api.get(f"{EXPORT}/{user}", headers=admin.bearer(user))).json()
    assert (export["customer"]["email"], export["customer"]["name"]) == (None, None)
    assert export["customer"]["erased_at"] is not None
    assert [p["amount"] for p in export["payments"]] == [2500]
    assert len(export["credit_transactions"]) == 1
    erasures = [entry for entry in export["audit_entries"] if entry["action"] == ERASED]
    assert len(erasures) == 1
    assert erasures[0]["actor"] == "admin:1"
    assert erasures[0]["details"]["fields_erased"] == ["email", "name"]
    entry = str(erasures[0]).lower()  # the erased values, not "ada": ids are hex and may hold it
    assert "ada@example.com" not in entry
    assert "ada l" not in entry


async def test_erasure_is_idempotent_and_a_replayed_checkout_cannot_restore_the_data(
    user: int, api: httpx.AsyncClient, db: Database, stripe_settings: Settings, admin: Credentials
) -> None:
    await customer_at_stripe(db, stripe_settings, user)
    headers = {**admin.admin(), "Idempotency-Key": "erase-once"}
    first = await api.delete(erase_path(user), headers=headers)
    replay = await api.delete(erase_path(user), headers=headers)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == first.json()

    again = await api.delete(erase_path(user), headers=admin.admin())
    assert again.status_code == 200
    body = again.json()
    assert (body["stripe_customer"], body["fields_erased"]) == ("already_deleted", [])
    assert body["erased_at"] == first.json()["erased_at"]  # the first erasure's time stands

    async with db.sessions() as session, session.begin():
        assert not await remember_contact(session, stripe_settings, user, "ada@example.com", "A")
    row = await stored_row(db, user)
    assert (row.email_encrypted, row.name_encrypted) == (None, None)


async def test_a_user_stripe_never_knew_is_erased_here_only(
    user: int, api: httpx.AsyncClient, db: Database, admin: Credentials
) -> None:
    response = await api.delete(erase_path(user), headers=admin.admin())
    assert response.status_code == 200
    body = response.json()
    assert (body["stripe_customer"], body["stripe_customer_id"], body["erased_at"]) == (
        "no_customer",
        None,
        None,
    )
    erasures = select(func.count()).where(AuditEntry.action == ERASED, AuditEntry.user_id == user)
    assert await count(db, erasures) == 1


async def test_erasure_finds_the_users_objects_by_the_metadata_the_service_wrote(
    user: int, stripe_settings: Settings
) -> None:
    """`billing_user_id` always names the user; a plain `user_id` only on an object made
    before the cutoff (the service's own, from before the prefix), never on another
    integration's, nor when the prefixed key names someone else."""
    cutoff = int(time.time()) - 3600
    at = datetime.fromtimestamp(cutoff, UTC)
    settings = stripe_settings.model_copy(update={"BILLING_LEGACY_METADATA_BEFORE": at})

    def intent(created: int | None, **metadata: str) -> WebhookEvent:
        obj = {
            "object": "payment_intent",
            "created": created,
            "metadata": metadata,
            "receipt_email": "someone@example.com",  # stored in clear, as before encryption
        }
        return webhook_event("processed", obj=obj)

    new, old = cutoff + 60, cutoff - 60
    async with asgi_client(settings) as http:
        db = http._transport.app.state.database  # type: ignore[attr-defined]
        ours = await inbox(
            db, intent(new, billing_user_id=str(user)), intent(old, user_id=str(user))
        )
        theirs = await inbox(
            db,
            intent(new, user_id=str(user)),
            intent(None, user_id=str(user)),
            intent(old, billing_user_id=str(user + 1), user_id=str(user)),
        )
        response = await http.delete(erase_path(user), headers=Credentials(settings, db).admin())
        assert response.status_code == 200, response.text
        assert response.json()["webhook_payloads_erased"] == 2
        emails = [obj["receipt_email"] for obj in await objects(db, ours + theirs)]
        assert emails == [None, None] + ["someone@example.com"] * 3


@pytest.mark.parametrize("caller", ["self", "service", "nobody"])
async def test_only_admins_may_erase(
    user: int,
    api: httpx.AsyncClient,
    db: Database,
    stripe_settings: Settings,
    admin: Credentials,
    stripe_sandbox: Sandbox,
    caller: str,
) -> None:
    customer_id = await customer_at_stripe(db, stripe_settings, user)
    headers = {
        "self": admin.bearer(user),
        "service": await admin.api_key("service"),
        "nobody": {},
    }[caller]
    response = await api.delete(erase_path(user), headers=headers)
    assert response.status_code == (401 if caller == "nobody" else 403)
    assert (await stored_row(db, user)).email_encrypted is not None
    assert stripe_has(stripe_sandbox.client, customer_id)


async def test_an_erased_user_pays_again_as_a_new_stripe_customer(
    user: int, api: httpx.AsyncClient, db: Database, admin: Credentials, stripe_sandbox: Sandbox
) -> None:
    """Erasure deletes the user's Stripe customer and unlinks it: the next payment makes a
    new customer (the deleted one would fail at Stripe), while the old customer id still
    names the user for the financial records its late events touch."""
    sandbox = stripe_sandbox.client
    topup = {"user_id": user, "amount": 2500, "currency": "usd"}
    paid = await post(api, "create-payment-intent", topup, admin.bearer(user))
    assert paid.status_code == 200, paid.text
    old = str(sandbox.v1.payment_intents.retrieve(paid.json()["id"]).customer)
    confirmed = sandbox.v1.payment_intents.confirm(
        paid.json()["id"], params={"payment_method": "pm_card_visa"}
    )
    assert confirmed.status == "succeeded"

    erased = await api.delete(erase_path(user), headers=admin.admin())
    assert erased.status_code == 200, erased.text
    assert erased.json()["stripe_customer_id"] == old
    assert not stripe_has(sandbox, old)

    again = await post(api, "create-payment-intent", topup, admin.bearer(user))
    assert again.status_code == 200, again.text
    new = str(sandbox.v1.payment_intents.retrieve(again.json()["id"]).customer)
    assert new != old
    assert_customer_of(sandbox, new, user)
    price = one_time_price(sandbox, amount=700)
    order = {
        "user_id": user,
        "price_id": price.id,
        "mode": "payment",
        "success_url": "https://billing.test/done",
        "cancel_url": "https://billing.test/cancel",
    }
    checkout = await post(api, "create-checkout-session", order, admin.bearer(user))
    assert checkout.status_code == 200, checkout.text
    assert sandbox.v1.checkout.sessions.retrieve(checkout.json()["id"]).customer == new
    assert not stripe_has(sandbox, old)

    async with db.sessions() as session:
        assert await customer_id_for(session, user) == new
        assert await user_for_customer(session, old) == user  # its late events still resolve
        assert await user_for_customer(session, new) == user
    export = (await api.get(f"{EXPORT}/{user}", headers=admin.bearer(user))).json()
    assert export["customer"]["stripe_customer_id"] == new

    # Erased again: the new customer goes too, and the user can still pay afterwards.
    second = await api.delete(erase_path(user), headers=admin.admin())
    assert (second.json()["stripe_customer_id"], second.json()["stripe_customer"]) == (
        new,
        "deleted",
    )
    assert not stripe_has(sandbox, new)
    third = await post(api, "create-payment-intent", topup, admin.bearer(user))
    assert third.status_code == 200, third.text
    latest = str(sandbox.v1.payment_intents.retrieve(third.json()["id"]).customer)
    assert latest not in (old, new)


async def test_nothing_of_an_erased_customer_is_left_not_even_in_its_later_events(
    user: int,
    api: httpx.AsyncClient,
    db: Database,
    stripe_settings: Settings,
    admin: Credentials,
) -> None:
    """Its events' payloads keep their ids and amounts but lose every personal field, and
    the events Stripe sends after the erasure (its `customer.deleted`, a late refund) are
    stored without them: not encrypted, absent."""
    buyer = Customer(user_id=user)
    await deliver(api, WEBHOOK_SECRET, *buyer.paying())
    await process(db, stripe_settings)
    assert await balance(api, admin.admin(), user) == CREDITS

    erased = await api.delete(erase_path(user), headers=admin.admin())

    assert erased.status_code == 200, erased.text
    assert erased.json()["webhook_payloads_erased"] == len(buyer.paying())
    assert await occurrences(db, *buyer.person.traces()) == []
    paid = await stored_objects(db, "checkout.session.completed")
    assert [(obj["customer"], obj["amount_total"], obj["customer_details"]) for obj in paid] == [
        (buyer.customer_id, AMOUNT, None)
    ]

    later = buyer.after_erasure()
    await deliver(api, WEBHOOK_SECRET, *later)
    assert await occurrences(db, *buyer.person.traces()) == []
    [deleted] = await stored_objects(db, "customer.deleted")
    [refunded] = await stored_objects(db, "charge.refunded")
    assert (deleted["id"], deleted["email"], deleted["name"], deleted["address"]) == (
        buyer.customer_id,
        None,
        None,
        None,
    )
    assert (refunded["amount_refunded"], refunded["billing_details"]) == (AMOUNT, None)
    assert "$encrypted" not in json.dumps([deleted, refunded])

    await process(db, stripe_settings)  # the late refund still claws back: amounts were kept
    assert await balance(api, admin.admin(), user) == 0
    assert await occurrences(db, *buyer.person.traces()) == []


async def stored_objects(db: Database, event_type: str) -> list[dict[str, Any]]:
    async with db.sessions() as session:
        rows = await session.scalars(select(WebhookEvent).where(WebhookEvent.type == event_type))
        return [(row.payload or {})["data"]["object"] for row in rows]


async def test_events_naming_only_a_payment_or_a_former_customer_are_scrubbed(
    user: int, api: httpx.AsyncClient, db: Database, stripe_settings: Settings, admin: Credentials
) -> None:
    """A dispute names the charge, not the customer; a detached payment method names its
    customer only among the previous attributes. Both are the user's, and scrubbed."""
    customer_id = await customer_at_stripe(db, stripe_settings, user)
    charge, intent = f"ch_{secrets.token_hex(8)}", f"pi_{secrets.token_hex(8)}"
    async with db.sessions() as session, session.begin():
        payment = recorded_payments.StripePayment(
            stripe_id=intent,
            kind="payment_intent",
            user_id=user,
            amount=500,
            currency="usd",
            payment_intent_id=intent,
            charge_id=charge,
        )
        await recorded_payments.record_success(session, payment, credits=0)
    evidence = {"customer_email_address": "ada@example.com", "customer_name": "Ada L"}
    dispute = {"object": "dispute", "charge": charge, "evidence": evidence}
    review = {"object": "review", "payment_intent": intent, "ip_address": "203.0.113.9"}
    card_holder = {"email": "ada@example.com", "name": "Ada L"}
    detached = {"object": "payment_method", "customer": None, "billing_details": card_holder}
    stranger = {"object": "dispute", "charge": "ch_someone_else", "evidence": evidence}
    ids = await inbox(db, *(webhook_event("processed", obj=o) for o in (dispute, review, stranger)))
    moved = webhook_event("processed", obj=detached)
    assert moved.payload is not None
    moved.payload["data"]["previous_attributes"] = {"customer": customer_id}
    ids += await inbox(db, moved)

    response = await api.delete(erase_path(user), headers=admin.admin())
    assert response.status_code == 200, response.text
    dispute_after, review_after, stranger_after, detached_after = await objects(db, ids)
    assert dispute_after["evidence"] == {"customer_email_address": None, "customer_name": None}
    assert (review_after["ip_address"], review_after["payment_intent"]) == (None, intent)
    assert stranger_after["evidence"] == evidence  # another customer's dispute
    assert (detached_after["billing_details"], detached_after["customer"]) == (None, None)
