"""Email and name are stored encrypted, read back under rotating keys, and stay erased."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import text, update

from billing.compliance.export import customer_record
from billing.compliance.personal_data import remember_checkout_contact, remember_contact
from billing.core.config import Settings
from billing.core.encryption import PersonalDataUnreadable
from billing.core.times import utcnow
from billing.db.engine import Database
from billing.payments.models import StripeCustomer
from tests.compliance.privacy import (
    EXPORT,
    customer_with_contact,
    new_key,
    stored_row,
    with_keys,
)
from tests.conftest import Credentials, asgi_client


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


async def read_back(database: Database, settings: Settings, user_id: int) -> tuple[object, ...]:
    async with database.sessions() as session:
        record = await customer_record(session, settings, user_id)
    assert record is not None
    return record["email"], record["name"]


async def test_email_and_name_are_encrypted_at_rest(database: Database, settings: Settings) -> None:
    key = new_key()
    keyed = with_keys(settings, key)
    await customer_with_contact(database, keyed, 7, "ada@example.com", "Ada Lovelace")

    async with database.engine.connect() as connection:
        email, name = (
            await connection.execute(
                text("SELECT email_encrypted, name_encrypted FROM stripe_customers")
            )
        ).one()
    assert "example.com" not in email.lower()  # a token: no part of the plain value shows
    assert "lovelace" not in name.lower()
    assert Fernet(key).decrypt(email.encode()) == b"ada@example.com"
    assert Fernet(key).decrypt(name.encode()) == b"Ada Lovelace"
    assert await read_back(database, keyed, 7) == ("ada@example.com", "Ada Lovelace")


async def test_old_values_read_while_a_new_key_is_first_and_new_ones_use_it(
    database: Database, settings: Settings
) -> None:
    old, new = new_key(), new_key()
    await customer_with_contact(database, with_keys(settings, old), 8, "old@example.com", "Old")
    rotated = with_keys(settings, new, old)

    assert await read_back(database, rotated, 8) == ("old@example.com", "Old")
    async with database.sessions() as session, session.begin():
        assert await remember_contact(session, rotated, 8, "new@example.com", None)
    token = (await stored_row(database, 8)).email_encrypted
    assert token is not None
    assert Fernet(new).decrypt(token.encode()) == b"new@example.com"
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(token.encode())
    assert await read_back(database, rotated, 8) == ("new@example.com", "Old")  # name kept


async def test_a_key_removed_before_rotation_is_a_clear_error(
    database: Database, settings: Settings
) -> None:
    old, new = new_key(), new_key()
    await customer_with_contact(database, with_keys(settings, old), 9)
    with pytest.raises(PersonalDataUnreadable):
        await read_back(database, with_keys(settings, new), 9)


async def test_export_answers_a_missing_key_with_a_problem_not_a_broken_document(
    settings: Settings, creds: Credentials, database: Database
) -> None:
    await customer_with_contact(database, with_keys(settings, new_key()), 10)
    async with asgi_client(with_keys(settings, new_key())) as http:
        response = await http.get(f"{EXPORT}/10", headers=creds.admin())
    assert response.status_code == 500
    assert response.json()["code"] == "encryption_key_missing"


async def test_nothing_is_stored_without_a_customer_or_after_erasure(
    database: Database, settings: Settings
) -> None:
    async with database.sessions() as session, session.begin():
        assert not await remember_contact(session, settings, 11, "x@example.com", "X")
    await customer_with_contact(database, settings, 12)
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(StripeCustomer)
            .where(StripeCustomer.user_id == 12)
            .values(email_encrypted=None, name_encrypted=None, erased_at=utcnow())
        )
    async with database.sessions() as session, session.begin():
        assert not await remember_contact(session, settings, 12, "back@example.com", "Back")
    row = await stored_row(database, 12)
    assert (row.email_encrypted, row.name_encrypted) == (None, None)


async def test_a_checkout_sessions_customer_details_are_remembered(
    database: Database, settings: Settings
) -> None:
    await customer_with_contact(database, settings, 13, "before@example.com", "Before")
    checkout = {
        "id": "cs_test_1",
        "customer_details": {"email": "grace@example.com", "name": "Grace Hopper", "phone": None},
    }
    async with database.sessions() as session, session.begin():
        assert await remember_checkout_contact(session, settings, 13, checkout)
        assert not await remember_checkout_contact(session, settings, 13, {"id": "cs_test_2"})
    assert await read_back(database, settings, 13) == ("grace@example.com", "Grace Hopper")
