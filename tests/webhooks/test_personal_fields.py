"""Personal data in stored webhook payloads: encrypted at ingest, nowhere in clear, while
the handlers still get every field they read."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr

from billing.compliance.export import customer_record
from billing.core.config import Settings
from billing.db.engine import Database
from billing.payments.customers import customer_id_for
from billing.webhooks import inbox, personal_fields
from tests.conftest import Credentials
from tests.support.contact_events import CREDITS, Customer, deliver, process
from tests.support.credits import balance
from tests.support.database_text import occurrences, text_columns
from tests.support.stripe_events import stripe_event
from tests.support.worker import inbox_rows

SECRET = "whsec_personal"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings with a webhook secret (`client` and `database` use them)."""
    return settings.model_copy(update={"STRIPE_WEBHOOK_SECRET": SecretStr(SECRET)})


async def test_the_database_search_sees_every_text_column(database: Database) -> None:
    """The search the tests below rely on reads the inbox payloads and the customer
    mirror's encrypted columns, from the catalog: nothing escapes it by being unlisted."""
    columns = await text_columns(database)
    for expected in (
        ("webhook_events", "payload"),
        ("webhook_events", "last_error"),
        ("stripe_customers", "email_encrypted"),
        ("audit_log", "details"),
        ("idempotency_keys", "response_body"),  # binary: text in bytes
    ):
        assert expected in columns


async def test_personal_details_are_stored_nowhere_in_clear_and_handlers_still_use_them(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    buyer = Customer(user_id=4101)
    await deliver(client, SECRET, *buyer.paying())
    await process(database, settings)

    events = await inbox_rows(database)
    assert {event.status for event in events} <= {"processed", "ignored"}
    assert len(events) == len(buyer.paying())
    assert await occurrences(database, *buyer.person.traces()) == []

    # The handlers' effects: the checkout's credits, the customer linked, its contact kept.
    headers = Credentials(settings, database).admin()
    assert await balance(client, headers, buyer.user_id) == CREDITS
    async with database.sessions() as session:
        assert await customer_id_for(session, buyer.user_id) == buyer.customer_id
        record = await customer_record(session, settings, buyer.user_id)
    assert record is not None
    assert (record["email"], record["name"]) == (buyer.person.email, buyer.person.name)


async def test_ids_and_amounts_stay_readable_and_the_stored_event_opens_to_the_delivered_one(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    buyer = Customer(user_id=4102)
    bodies = buyer.paying()
    await deliver(client, SECRET, *bodies)

    stored = {event.stripe_event_id: event for event in await inbox_rows(database)}
    for body in bodies:
        delivered = json.loads(body)
        event = stored[delivered["id"]]
        assert event.payload is not None
        assert event.payload != delivered
        assert personal_fields.opened(settings, event.payload) == delivered
    checkout = stored[json.loads(bodies[2])["id"]].payload
    assert checkout is not None
    obj = checkout["data"]["object"]
    assert (obj["customer"], obj["amount_total"], obj["metadata"]["billing_user_id"]) == (
        buyer.customer_id,
        900,
        str(buyer.user_id),
    )
    assert set(obj["customer_details"]) == {personal_fields.SEALED}


def test_where_and_how_a_person_paid_is_personal_and_a_tax_ids_value_too(
    settings: Settings,
) -> None:
    """IP addresses, user agents, names a bank verified, wallet payers, and the `value`
    of a tax id (a generic name elsewhere: a metadata `value` stays readable)."""
    customer = {
        "object": "customer",
        "tax": {"ip_address": "203.0.113.9", "automatic_tax": "supported"},
        "tax_ids": {"data": [{"object": "tax_id", "type": "eu_vat", "value": "DE123456789"}]},
        "metadata": {"value": "kept"},
    }
    mandate = {
        "object": "mandate",
        "customer_acceptance": {"online": {"ip_address": "203.0.113.9", "user_agent": "UA"}},
        "payment_method_details": {"ideal": {"verified_name": "J. Doe"}},
    }
    for obj in (customer, mandate):
        payload = {"object": "event", "data": {"object": obj}}
        sealed = personal_fields.sealed(settings, payload)
        assert sealed is not None
        text = json.dumps(sealed)
        for needle in ("203.0.113.9", "DE123456789", "J. Doe", '"UA"'):
            assert needle not in text
        assert personal_fields.opened(settings, sealed) == payload
    sealed_customer = personal_fields.sealed(settings, {"data": {"object": customer}})
    assert sealed_customer is not None
    assert sealed_customer["data"]["object"]["metadata"] == {"value": "kept"}


def test_every_personal_field_is_encrypted_at_any_depth_and_nothing_else(
    settings: Settings,
) -> None:
    product = {"object": "product", "id": "prod_1", "name": "Gold plan"}
    payload = {
        "object": "event",
        "data": {
            "object": {
                "object": "checkout.session",
                "customer": "cus_1",
                "amount_total": 900,
                "customer_details": {"email": "a@example.com", "name": "A"},
                "line_items": {"data": [{"price": {"object": "price", "product": product}}]},
                "charges": {"data": [{"billing_details": {"phone": "+1 555"}, "amount": 9}]},
                "shipping": {},  # holds nothing: left as it is
                "receipt_email": None,
            },
            "previous_attributes": {"email": "old@example.com"},
        },
    }
    sealed = personal_fields.sealed(settings, payload)

    assert sealed is not None
    obj = sealed["data"]["object"]
    assert set(obj["customer_details"]) == {personal_fields.SEALED}
    assert set(obj["charges"]["data"][0]["billing_details"]) == {personal_fields.SEALED}
    assert set(sealed["data"]["previous_attributes"]["email"]) == {personal_fields.SEALED}
    assert obj["line_items"] == payload["data"]["object"]["line_items"]  # a product's name
    assert (obj["customer"], obj["amount_total"], obj["shipping"], obj["receipt_email"]) == (
        "cus_1",
        900,
        {},
        None,
    )
    assert personal_fields.opened(settings, sealed) == payload
    assert personal_fields.sealed(settings, sealed) is None  # never encrypted twice

    blank = personal_fields.scrubbed(sealed)
    assert blank is not None
    assert blank["data"]["object"]["customer_details"] is None
    assert blank["data"]["object"]["charges"]["data"][0] == {"billing_details": None, "amount": 9}
    assert blank["data"]["previous_attributes"] == {"email": None}
    assert blank["data"]["object"]["line_items"] == obj["line_items"]
    assert personal_fields.scrubbed(blank) is None


def test_an_event_without_personal_data_is_stored_as_stripe_signed_it(
    settings: Settings,
) -> None:
    body = stripe_event("payment_intent.succeeded")  # a plan: nothing personal
    event = inbox.parse_event(body, settings)
    assert event.body is body
    assert event.if_erased is None
