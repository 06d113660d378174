"""`billing rotate-keys`: every value ends under the newest key, in resumable batches."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from billing.audit.models import AuditEntry
from billing.compliance.export import customer_record
from billing.compliance.rotation import ROTATED, rotate_keys
from billing.core.config import Settings
from billing.core.encryption import decrypt, email_lookup
from billing.db.engine import Database
from billing.outbound import service as outbound
from billing.outbound.models import WebhookEndpoint
from billing.payments.models import StripeCustomer
from billing.runtime.cli import app
from billing.webhooks import inbox, personal_fields
from tests.compliance.privacy import customer_with_contact, new_key, webhook_event, with_keys
from tests.conftest import asgi_client
from tests.support.contact_events import Customer, deliver, process
from tests.support.database_text import occurrences
from tests.support.stripe_events import stripe_event
from tests.support.worker import inbox_rows

USERS = range(101, 108)  # 7 customers: batches of 3, 3 and 1


class Interrupted(Exception):
    pass


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


async def seed(database: Database, settings: Settings, key: bytes) -> None:
    for user_id in USERS:
        await customer_with_contact(
            database, with_keys(settings, key), user_id, f"u{user_id}@example.com", f"U {user_id}"
        )


async def tokens(database: Database) -> list[str]:
    async with database.sessions() as session:
        rows = (
            await session.execute(
                select(StripeCustomer.email_encrypted, StripeCustomer.name_encrypted)
            )
        ).all()
    return [token for row in rows for token in row if token is not None]


async def rotations_audited(database: Database) -> int:
    async with database.sessions() as session:
        query = select(func.count()).where(AuditEntry.action == ROTATED)
        return int(await session.scalar(query) or 0)


async def test_every_value_is_reencrypted_under_the_new_key_and_the_old_can_go(
    database: Database, settings: Settings
) -> None:
    old, new = new_key(), new_key()
    await seed(database, settings, old)
    audited = await rotations_audited(database)  # the log is append-only: count what is new
    batches: list[int] = []

    counts = await rotate_keys(
        database, with_keys(settings, new, old), "test", batches.append, batch_size=3
    )

    assert (counts.rotated, counts.current, counts.unreadable) == (14, 0, [])
    assert batches == [3, 3, 1]
    stored = await tokens(database)
    assert len(stored) == 14
    for token in stored:
        Fernet(new).decrypt(token.encode())
        with pytest.raises(InvalidToken):
            Fernet(old).decrypt(token.encode())
    only_new = with_keys(settings, new)
    async with database.sessions() as session:
        for user_id in USERS:
            record = await customer_record(session, only_new, user_id)
            assert record is not None
            assert (record["email"], record["name"]) == (f"u{user_id}@example.com", f"U {user_id}")

    again = await rotate_keys(database, only_new, "test", batch_size=3)  # idempotent
    assert (again.rotated, again.current) == (0, 14)
    assert await tokens(database) == stored
    assert await rotations_audited(database) == audited + 2


async def test_an_interrupted_rotation_resumes_where_it_stopped(
    database: Database, settings: Settings
) -> None:
    old, new = new_key(), new_key()
    await seed(database, settings, old)
    rotated = with_keys(settings, new, old)
    audited = await rotations_audited(database)

    def stop_after_first_batch(rows: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        await rotate_keys(database, rotated, "test", stop_after_first_batch, batch_size=3)
    assert await rotations_audited(database) == audited  # only a finished run is audited

    rest = await rotate_keys(database, rotated, "test", batch_size=3)
    assert (rest.rotated, rest.current) == (8, 6)
    for token in await tokens(database):
        Fernet(new).decrypt(token.encode())


async def test_a_value_no_key_reads_is_reported_and_the_rest_rotate(
    database: Database, settings: Settings
) -> None:
    lost, old, new = new_key(), new_key(), new_key()
    await seed(database, settings, old)
    await customer_with_contact(database, with_keys(settings, lost), 200)
    stray = await _row_id(database, 200)

    counts = await rotate_keys(database, with_keys(settings, new, old), "test", batch_size=3)

    assert counts.unreadable == [stray]
    assert counts.rotated == 14
    assert not counts.ok


async def _row_id(database: Database, user_id: int) -> int:
    async with database.sessions() as session:
        found = await session.scalar(
            select(StripeCustomer.id).where(StripeCustomer.user_id == user_id)
        )
    assert found is not None
    return found


def test_the_command_shows_progress_and_fails_on_unreadable_values(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    old, new, lost = new_key(), new_key(), new_key()
    contact = {"object": "customer", "id": "cus_1", "email": "u@example.com"}
    event = inbox.parse_event(
        stripe_event("customer.updated", data={"object": contact}), with_keys(settings, old)
    )

    async def prepare() -> None:
        database = Database(settings)
        await seed(database, settings, old)
        async with database.sessions() as session:
            await inbox.receive(session, event)
        await database.dispose()

    asyncio.run(prepare())
    env = {
        "DATABASE_URL": database_url,
        "BILLING_DATA_DIR": str(tmp_path),
        "BILLING_ENV": "development",
        "BILLING_ENCRYPTION_KEYS": f"{new.decode()},{old.decode()}",
    }
    result = CliRunner().invoke(app, ["rotate-keys", "--batch-size", "2"], env=env)
    assert result.exit_code == 0, result.output
    assert "re-encrypting personal data" in result.stdout
    assert "15 values re-encrypted, 0 already under the newest key" in result.stdout

    env["BILLING_ENCRYPTION_KEYS"] = lost.decode()
    result = CliRunner().invoke(app, ["rotate-keys"], env=env)
    assert result.exit_code == 1
    assert "no configured key decrypts customer rows [" in result.stderr
    assert f"and webhook events ['{event.id}']" in result.stderr


async def test_stored_webhook_payloads_are_reencrypted_and_old_clear_ones_encrypted(
    database: Database, settings: Settings
) -> None:
    """Payloads filed under the old key (over the signed route), and one stored in clear
    before payloads were encrypted, all open under the new key alone after a rotation;
    the handlers then run with the new key only."""
    old, new = new_key(), new_key()
    buyer = Customer(user_id=4201)
    secret = "whsec_rotation"
    filing = with_keys(settings, old).model_copy(
        update={"STRIPE_WEBHOOK_SECRET": SecretStr(secret)}
    )
    bodies = buyer.paying()
    async with asgi_client(filing) as http:
        await deliver(http, secret, *bodies[1:])
    legacy = json.loads(bodies[0])  # as a version before encryption left it
    async with database.sessions() as session, session.begin():
        session.add(webhook_event("pending", obj=legacy["data"]["object"]))

    counts = await rotate_keys(database, with_keys(settings, new, old), "test", batch_size=2)

    assert counts.ok
    assert counts.rotated >= len(bodies) * 2  # at least two personal fields per event
    assert await occurrences(database, *buyer.person.traces()) == []
    only_new = with_keys(settings, new)
    stored = {row.stripe_event_id: row.payload for row in await inbox_rows(database)}
    delivered = [json.loads(body) for body in bodies[1:]]
    for event in delivered:
        assert personal_fields.opened(only_new, stored.pop(event["id"]) or {}) == event
    [old_one] = stored.values()
    assert personal_fields.opened(only_new, old_one or {})["data"] == legacy["data"]

    again = await rotate_keys(database, only_new, "test", batch_size=2)
    assert (again.rotated, again.current) == (0, counts.rotated)

    await process(database, only_new)
    async with database.sessions() as session:
        record = await customer_record(session, only_new, buyer.user_id)
    assert record is not None
    assert (record["email"], record["name"]) == (buyer.person.email, buyer.person.name)


async def test_a_payload_no_key_reads_is_reported_by_its_event_and_the_rest_rotate(
    database: Database, settings: Settings
) -> None:
    lost, old, new = new_key(), new_key(), new_key()
    contact = {"object": "customer", "id": "cus_1", "email": "lost@example.com"}
    rows = []
    for key in (lost, old):
        body = stripe_event("customer.updated", data={"object": contact})
        rows.append(inbox.parse_event(body, with_keys(settings, key)))
        async with database.sessions() as session:
            assert await inbox.receive(session, rows[-1])

    counts = await rotate_keys(database, with_keys(settings, new, old), "test")

    assert counts.unreadable_events == [rows[0].id]
    assert (counts.rotated, counts.unreadable, counts.ok) == (1, [], False)


async def _endpoint(database: Database, settings: Settings, rotate: bool) -> tuple[int, list[str]]:
    """An endpoint whose secrets are encrypted under `settings`' key: its id and secrets,
    the current one first (and the one it replaced, if `rotate`)."""
    async with database.sessions() as session:
        endpoint, secret = await outbound.create(
            session,
            settings,
            url="http://127.0.0.1:9/",
            events=["*"],
            description=None,
            actor="test",
        )
    if not rotate:
        return endpoint.id, [secret]
    async with database.sessions() as session:
        _, newer = await outbound.rotate_secret(session, settings, endpoint.id, actor="test")
    return endpoint.id, [newer, secret]


async def test_webhook_endpoint_secrets_are_reencrypted_and_an_unreadable_one_reported(
    database: Database, settings: Settings
) -> None:
    lost, old, new = new_key(), new_key(), new_key()
    rotated_id, secrets = await _endpoint(database, with_keys(settings, old), rotate=True)
    stray_id, _ = await _endpoint(database, with_keys(settings, lost), rotate=False)

    counts = await rotate_keys(database, with_keys(settings, new, old), "test")

    assert (counts.rotated, counts.unreadable_endpoints, counts.ok) == (2, [stray_id], False)
    only_new = with_keys(settings, new)
    async with database.sessions() as session:
        stored = await session.get(WebhookEndpoint, rotated_id)
    assert stored is not None
    assert [
        decrypt(only_new, token)
        for token in (stored.secret_encrypted, stored.previous_secret_encrypted)
        if token is not None
    ] == secrets


async def lookups(database: Database) -> list[str | None]:
    async with database.sessions() as session:
        query = select(StripeCustomer.email_lookup).order_by(StripeCustomer.user_id)
        return list(await session.scalars(query))


async def test_email_lookups_follow_the_newest_key_and_rows_without_one_get_theirs(
    database: Database, settings: Settings
) -> None:
    old, new = new_key(), new_key()
    await seed(database, settings, old)
    async with database.sessions() as session, session.begin():  # as stored before 0020
        await session.execute(
            update(StripeCustomer).where(StripeCustomer.user_id == 101).values(email_lookup=None)
        )
    rotated = with_keys(settings, new, old)

    counts = await rotate_keys(database, rotated, "test", batch_size=3)

    assert counts.rotated == 14  # the values; their lookups are not counted as rotated
    expected = [email_lookup(with_keys(settings, new), f"u{u}@example.com") for u in USERS]
    assert await lookups(database) == expected
    assert expected[0] != email_lookup(with_keys(settings, old), "u101@example.com")
