"""Receiving into the inbox: a verified event is stored once, then acknowledged.

Processing happens later, in a worker; the receiving side only has to make sure
that an acknowledged event is on disk and that a redelivery changes nothing.

What is stored is the event with its personal fields encrypted (`personal_fields`),
or, for an event about a customer already erased, without them at all: the database
decides which, in the statement that inserts it, from the customer mirror's
`erased_at`. An event with no personal data is stored as the body Stripe signed.

On PostgreSQL this is the service's busiest write, so it is one statement on the
driver's connection: an INSERT ... ON CONFLICT DO NOTHING in its own implicit
transaction (committed, with `synchronous_commit=on`, before it returns), storing
the JSON text as the JSONB document instead of re-encoding it. On either database,
deliveries that arrive while others are being written are committed together
(`DELIVERIES`, `RECEIVED` on SQLite).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.config import Settings
from billing.core.errors import ValidationProblem
from billing.core.times import utcnow
from billing.db.engine import Database
from billing.db.group_commit import GroupCommit
from billing.db.sqlite_driver import bind_time, sqlite3_connection
from billing.db.statements import driver_connection_of
from billing.webhooks import personal_fields

INSERT = """
INSERT INTO webhook_events (stripe_event_id, type, api_version, livemode, created, payload,
                            status, attempts, next_attempt_at, received_at)
"""


def _stored(scrubbed: str, customer: str, payload: str, cast: str = "::jsonb") -> str:
    """The payload to store: the scrubbed one if there is one and its customer was erased."""
    return f"""CASE WHEN {scrubbed}{cast} IS NOT NULL AND EXISTS (
    SELECT 1 FROM stripe_customers
    WHERE stripe_customer_id = {customer} AND erased_at IS NOT NULL
) THEN {scrubbed}{cast} ELSE {payload}{cast} END"""  # noqa: S608 (placeholders only)


VALUES = "VALUES ({}, {}, {}, {}, {}, {}, 'pending', 0, {now}, {now})"
ONCE = "\nON CONFLICT (stripe_event_id) DO NOTHING RETURNING id"
# $1 event id, $2 type, $3 api version, $4 livemode, $5 created, $6 payload,
# $7 the customer it is about, $8 the payload scrubbed, $9 now
ONE = VALUES.format("$1", "$2", "$3", "$4", "$5", _stored("$8", "$7", "$6"), now="$9")
INSERT_ONCE = f"{INSERT}{ONE}{ONCE}"
# The same on SQLite's own connection, with named parameters (`_sqlite_row`).
ONE_SQLITE = VALUES.format(
    ":id",
    ":type",
    ":api_version",
    ":livemode",
    ":created",
    _stored(":scrubbed", ":customer", ":payload", cast=""),
    now=":now",
)
INSERT_ONCE_SQLITE = f"{INSERT}{ONE_SQLITE}{ONCE}"
# The same, for arrays of each: one statement and one commit for a batch of deliveries.
INSERT_MANY = f"""{INSERT}
SELECT id, type, api_version, livemode, created,
       {_stored("scrubbed", "event.customer", "payload")},
       'pending', 0, $9, $9
FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::boolean[], $5::timestamptz[],
            $6::text[], $7::varchar[], $8::text[])
     AS event(id, type, api_version, livemode, created, payload, customer, scrubbed)
ON CONFLICT (stripe_event_id) DO NOTHING
RETURNING stripe_event_id
"""  # noqa: S608 (constants only)


@dataclass(frozen=True, slots=True)
class Scrubbed:
    """The event as stored if its customer has been erased: no personal data at all."""

    customer: str
    body: str  # the event without personal data, as JSON text


@dataclass(frozen=True, slots=True)
class StripeEvent:
    id: str
    type: str
    api_version: str | None
    livemode: bool
    created: datetime
    body: bytes  # as stored, JSON text: personal fields encrypted (else the body Stripe signed)
    if_erased: Scrubbed | None  # None: it names no customer, or holds no personal data


def parse_event(body: bytes, settings: Settings) -> StripeEvent:
    """The event envelope, checked (Stripe signed it, but we still refuse what we can't
    file), as it is to be stored: personal fields encrypted under `settings`' keys."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValidationProblem("The webhook body is not JSON.") from exc
    if not isinstance(payload, dict) or payload.get("object") != "event":
        raise ValidationProblem("The webhook body is not a Stripe event.")
    event_id, event_type, created = payload.get("id"), payload.get("type"), payload.get("created")
    if not (isinstance(event_id, str) and event_id.startswith("evt_") and len(event_id) <= 255):
        raise ValidationProblem("The event has no valid id.")
    if not (isinstance(event_type, str) and 0 < len(event_type) <= 100):
        raise ValidationProblem("The event has no valid type.")
    if not isinstance(created, int):
        raise ValidationProblem("The event has no creation time.")
    api_version = payload.get("api_version")
    sealed = personal_fields.sealed(settings, payload)
    if_erased = None  # nothing personal (Stripe never sends a value shaped as an encrypted one)
    if sealed is not None:
        payload, body, if_erased = sealed, orjson.dumps(sealed), _if_erased(sealed)
    return StripeEvent(
        id=event_id,
        type=event_type,
        api_version=api_version if isinstance(api_version, str) else None,
        livemode=bool(payload.get("livemode")),
        created=datetime.fromtimestamp(created, UTC),
        body=body,
        if_erased=if_erased,
    )


def _if_erased(payload: dict[str, Any]) -> Scrubbed | None:
    customer = personal_fields.customer_of(payload)
    scrubbed = personal_fields.scrubbed(payload) if customer is not None else None
    if customer is None or scrubbed is None:
        return None
    return Scrubbed(customer, orjson.dumps(scrubbed).decode())


async def store(database: Database, event: StripeEvent) -> bool:
    """`receive` without a session, for the webhook route: committed in groups."""
    if database.dialect == "postgresql":
        return await DELIVERIES.write(database, event)
    return await RECEIVED.write(database, event)


async def receive(session: AsyncSession, event: StripeEvent) -> bool:
    """Store the event unless it is already in the inbox; True if it is new: the route's
    statement, on the session's own driver connection.

    Call it outside a transaction: the event is committed by the time it returns."""
    now = utcnow()
    async with session.begin():
        if session.get_bind().dialect.name == "postgresql":
            driver = await driver_connection_of(session)
            return await driver.fetchval(INSERT_ONCE, *_row(event), now) is not None
        return _insert_sqlite(await sqlite3_connection(session), event, bind_time(now))


async def _insert_once(database: Database, event: StripeEvent) -> bool:
    async with database.driver_connection() as connection:
        inserted = await connection.fetchval(INSERT_ONCE, *_row(event), utcnow())
    return inserted is not None


async def _insert_many(database: Database, events: list[StripeEvent]) -> list[bool]:
    """Which of `events` are new; of one event delivered twice in the batch, the first."""
    columns = map(list, zip(*map(_row, events), strict=True))
    async with database.driver_connection() as connection:
        rows = await connection.fetch(INSERT_MANY, *columns, utcnow())
    inserted = {row["stripe_event_id"] for row in rows}
    answers = []
    for event in events:
        answers.append(event.id in inserted)
        inserted.discard(event.id)
    return answers


def _row(event: StripeEvent) -> tuple[Any, ...]:
    scrubbed = event.if_erased
    return (
        event.id,
        event.type,
        event.api_version,
        event.livemode,
        event.created,
        event.body.decode(),
        scrubbed.customer if scrubbed else None,
        scrubbed.body if scrubbed else None,
    )


def _event_id(event: StripeEvent) -> str:
    return event.id


async def _receive_alone(database: Database, event: StripeEvent) -> bool:
    (new,) = await _receive_together(database, [event])
    return new


async def _receive_together(database: Database, events: list[StripeEvent]) -> list[bool]:
    """In one transaction on SQLite's own connection: one statement per event, built once
    (the ORM's statement took most of a delivery's CPU); of one event delivered twice,
    the first is new."""
    now = bind_time(utcnow())
    async with database.sessions() as session, session.begin():
        connection = await sqlite3_connection(session)
        return [_insert_sqlite(connection, event, now) for event in events]


def _insert_sqlite(connection: sqlite3.Connection, event: StripeEvent, now: str) -> bool:
    return connection.execute(INSERT_ONCE_SQLITE, _sqlite_row(event, now)).fetchone() is not None


def _sqlite_row(event: StripeEvent, now: str) -> dict[str, Any]:
    """The parameters of `INSERT_ONCE_SQLITE`: the payload as the JSON text it arrived as."""
    scrubbed = event.if_erased
    return {
        "id": event.id,
        "type": event.type,
        "api_version": event.api_version,
        "livemode": event.livemode,
        "created": bind_time(event.created),
        "payload": event.body.decode(),
        "customer": scrubbed.customer if scrubbed else None,
        "scrubbed": scrubbed.body if scrubbed else None,
        "now": now,
    }


# Deliveries, committed in groups (see group_commit.py): one statement on PostgreSQL,
# one transaction, write turn and fsync on SQLite.
DELIVERIES = GroupCommit(_insert_once, _insert_many, order=_event_id)
RECEIVED = GroupCommit(_receive_alone, _receive_together, order=_event_id)
