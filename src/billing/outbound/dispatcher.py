"""Sending the outbox: fan each message out to the endpoints subscribed to it, then send
every due delivery, retrying with backoff for more than three days.

Any number of workers may run this. Each pass:
1. fans out new messages (locked with `SKIP LOCKED`, so each is fanned out once): a
   delivery per live endpoint subscribed to its type at that moment;
2. claims due deliveries (`SKIP LOCKED`) by counting the attempt and pushing
   `next_attempt_at` one lease ahead, and commits: no transaction stays open while the
   requests run, and a worker killed mid-request leaves a delivery another worker takes
   up once the lease ends (the same `webhook-id`: receivers dedupe on it);
3. sends the claimed deliveries concurrently, then records every attempt in one
   transaction: a 2xx delivers, anything else is retried after the next step of
   `BACKOFF`; after the last one the delivery is `failed` and an alert is raised. An
   outcome whose lease another worker took over meanwhile is logged as an attempt but
   changes nothing else. (A request ends within its timeout, well inside the lease.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.config import Settings
from billing.core.encryption import decrypt
from billing.core.times import utcnow
from billing.db.engine import Database
from billing.db.outbox import OutboxMessage
from billing.db.types import UTCDateTime
from billing.obs.alerts import alert
from billing.outbound.events import EVERY_EVENT
from billing.outbound.models import (
    DELIVERED,
    FAILED,
    PENDING,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from billing.outbound.sending import CONNECTIONS, TIMEOUT_SECONDS, Answer, Message, send

# Waits after each failed attempt: 75 h 35 min in all, then the delivery has failed.
BACKOFF = tuple(
    timedelta(seconds=s) for s in (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
)
LEASE = timedelta(seconds=TIMEOUT_SECONDS * 3)  # a claimed attempt's time to finish
BATCH = 100  # deliveries claimed, and messages fanned out, per pass


ClaimedRow = Row[int, int, int, int]  # delivery id, attempt, message id, endpoint id


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: int
    attempt: int
    url: str
    secrets: list[str]
    message: Message


def subscribed(endpoint: WebhookEndpoint, type_: str) -> bool:
    return EVERY_EVENT in endpoint.events or type_ in endpoint.events


def live_secrets(settings: Settings, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the one it replaced for a day."""
    secrets = [decrypt(settings, endpoint.secret_encrypted)]
    until, previous = endpoint.previous_secret_until, endpoint.previous_secret_encrypted
    if previous is not None and until is not None and until > now:
        secrets.append(decrypt(settings, previous))
    return secrets


async def fan_out(database: Database) -> int:
    """Deliveries for new messages; how many messages were fanned out."""
    now = utcnow()
    async with database.sessions() as session, session.begin():
        messages = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.fanned_out_at.is_(None))
                .order_by(OutboxMessage.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not messages:
            return 0
        endpoints = (
            await session.scalars(
                select(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None))
            )
        ).all()
        for message in messages:
            message.fanned_out_at = now
            for endpoint in endpoints:
                if subscribed(endpoint, message.type):
                    session.add(new_delivery(message.id, endpoint.id, now))
    return len(messages)


def new_delivery(message_id: int, endpoint_id: int, now: datetime) -> WebhookDelivery:
    return WebhookDelivery(
        message_id=message_id,
        endpoint_id=endpoint_id,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


async def claim(database: Database, settings: Settings, only: int | None = None) -> list[Claimed]:
    """Due deliveries (or just `only`, due or not), each with its attempt counted. A
    deleted endpoint has none pending: deleting it ends them (`service.delete`)."""
    now = utcnow()
    due = select(WebhookDelivery.id).where(WebhookDelivery.status == PENDING)
    if only is None:
        due = due.where(WebhookDelivery.next_attempt_at <= now)
        due = due.order_by(WebhookDelivery.next_attempt_at).limit(BATCH)
    else:
        due = due.where(WebhookDelivery.id == only)
    async with database.sessions() as session, session.begin():
        claimed = (
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(due.with_for_update(skip_locked=True)))
                .values(
                    attempts=WebhookDelivery.attempts + 1,
                    next_attempt_at=now + LEASE,
                    updated_at=now,
                )
                .returning(
                    WebhookDelivery.id,
                    WebhookDelivery.attempts,
                    WebhookDelivery.message_id,
                    WebhookDelivery.endpoint_id,
                )
            )
        ).all()
        return await _with_messages(session, settings, claimed, now)


async def _with_messages(
    session: AsyncSession, settings: Settings, claimed: Sequence[ClaimedRow], now: datetime
) -> list[Claimed]:
    if not claimed:
        return []
    messages = {
        m.id: m
        for m in await session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_({c.message_id for c in claimed}))
        )
    }
    endpoints = {
        e.id: e
        for e in await session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.id.in_({c.endpoint_id for c in claimed}))
        )
    }
    secrets = {e.id: live_secrets(settings, e, now) for e in endpoints.values()}
    return [
        Claimed(
            c.id,
            c.attempts,
            endpoints[c.endpoint_id].url,
            secrets[c.endpoint_id],
            Message(messages[c.message_id].message_id, messages[c.message_id].body.encode()),
        )
        for c in claimed
    ]


# Settles a delivery by its attempt, unless another worker took its lease over meanwhile.
SETTLE = (
    update(WebhookDelivery)
    .where(
        WebhookDelivery.id == bindparam("delivery"),
        WebhookDelivery.attempts == bindparam("attempt"),
        WebhookDelivery.status == PENDING,
    )
    .values(
        status=bindparam("status"),
        last_status_code=bindparam("code"),
        last_error=bindparam("error"),
        next_attempt_at=bindparam("next_attempt_at", type_=UTCDateTime()),
        delivered_at=bindparam("delivered_at", type_=UTCDateTime()),
        updated_at=bindparam("now", type_=UTCDateTime()),
    )
)


def _settled(claimed: Claimed, answer: Answer, now: datetime) -> dict[str, Any]:
    """`SETTLE`'s parameters for this attempt's delivery."""
    row: dict[str, Any] = {
        "delivery": claimed.delivery_id,
        "attempt": claimed.attempt,
        "code": answer.status_code,
        "error": answer.error,
        "now": now,
        "next_attempt_at": now + LEASE,  # unless pending, never due again anyway
        "delivered_at": None,
    }
    if answer.delivered:
        return {**row, "status": DELIVERED, "delivered_at": now}
    if claimed.attempt > len(BACKOFF):
        return {**row, "status": FAILED}
    return {**row, "status": PENDING, "next_attempt_at": now + BACKOFF[claimed.attempt - 1]}


async def record(database: Database, outcomes: list[tuple[Claimed, Answer]]) -> None:
    """Log each attempt and settle its delivery by it, in one transaction: the settlements
    in one batch, but those that fail for good, each told (once committed) by an alert."""
    now = utcnow()
    rows = [_settled(claimed, answer, now) for claimed, answer in outcomes]
    failed: list[int] = []
    async with database.sessions() as session, session.begin():
        session.add_all(
            WebhookAttempt(
                delivery_id=claimed.delivery_id,
                attempted_at=now,
                duration_ms=answer.duration_ms,
                status_code=answer.status_code,
                response=answer.response,
                error=answer.error,
            )
            for claimed, answer in outcomes
        )
        connection = await session.connection()  # Core: one executemany for the batch
        going_on = [row for row in rows if row["status"] != FAILED]
        if going_on:
            await connection.execute(SETTLE, going_on)
        for row in rows:
            settled = row["status"] == FAILED and await connection.scalar(
                SETTLE.returning(WebhookDelivery.id), row
            )
            if settled:
                failed.append(row["delivery"])
    urls = {claimed.delivery_id: claimed.url for claimed, _ in outcomes}
    for delivery in failed:  # an alert for a write that rolled back would lie
        alert("webhook_delivery_failed", delivery_id=delivery, url=urls[delivery])


async def deliver(
    database: Database, settings: Settings, client: httpx.AsyncClient, only: int | None = None
) -> int:
    """One pass: fan out, claim, send, record; how many attempts it made."""
    if only is None:
        await fan_out(database)
    return await send_due(database, settings, client, only)


async def more_to_do(database: Database, settings: Settings, client: httpx.AsyncClient) -> bool:
    """One pass of a worker; True when it came back full (fanning out or sending), so the
    worker goes on at once."""
    if not await _anything_waits(database):
        return False
    fanned = await fan_out(database)
    return max(fanned, await send_due(database, settings, client)) >= BATCH


async def _anything_waits(database: Database) -> bool:
    """A message to fan out or a delivery due: a lock-free look, so an idle dispatcher
    takes no write transaction (on SQLite, the process's one write turn) every second."""
    new = select(OutboxMessage.id).where(OutboxMessage.fanned_out_at.is_(None))
    due = select(WebhookDelivery.id).where(
        WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= utcnow()
    )
    return await database.any_row(new, due)


async def send_due(
    database: Database, settings: Settings, client: httpx.AsyncClient, only: int | None = None
) -> int:
    """Claim what is due (`only` that delivery, if given), send it and record the answers;
    how many attempts it made."""
    claimed = await claim(database, settings, only)
    gate = asyncio.Semaphore(CONNECTIONS)
    production = settings.BILLING_ENV == "production"

    async def attempt(one: Claimed) -> tuple[Claimed, Answer]:
        async with gate:
            return one, await send(client, one.url, one.secrets, one.message, production=production)

    if claimed:
        await record(database, list(await asyncio.gather(*(attempt(one) for one in claimed))))
    return len(claimed)
