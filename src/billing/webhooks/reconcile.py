"""Recovering missed deliveries: list Stripe's events and file the ones the inbox lacks.

Stripe keeps events for 30 days and lists them newest first. Reconcile asks for
those created since the newest event in the inbox, less a safety margin (deliveries
arrive out of order, so an older event may still be missing), and files each
missing one through the same `parse_event` and `receive` as the webhook route, exactly
as Stripe sent it but for its personal fields, encrypted the same way: the worker then
handles it like any delivery. With an empty inbox it
takes every event Stripe still has. Running it twice inserts nothing the second time.

That window cannot see a gap older than the newest delivery less the margin (an
outage long past, then deliveries resumed). `days` scans a fixed window instead,
every event Stripe created in the last `days` days; the events already filed cost
one read of their ids per page, so a daily run over a few days is cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import orjson
import stripe
from sqlalchemy import func, select

from billing.core.config import Settings
from billing.core.times import utcnow
from billing.db.engine import Database
from billing.stripe.paging import raw_pages
from billing.stripe.readers import StripeObject
from billing.webhooks import inbox
from billing.webhooks.models import WebhookEvent

SAFETY_MARGIN = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Progress:
    since: datetime | None  # None: every event Stripe keeps
    pages: int = 0
    seen: int = 0
    inserted: int = 0


def _quiet(_: Progress) -> None:
    return None


async def reconcile_events(
    database: Database,
    settings: Settings,
    client: stripe.StripeClient,
    on_page: Callable[[Progress], None] = _quiet,
    margin: timedelta = SAFETY_MARGIN,
    days: int | None = None,
) -> Progress:
    """File every listed event the inbox lacks; the counts, also given after each page.
    The events listed: those of the last `days` days if given, else those since the
    newest in the inbox less `margin`."""
    if days is not None:
        since: datetime | None = utcnow().replace(microsecond=0) - timedelta(days=days)
    else:
        since = await _window_start(database, margin)
    params: dict[str, Any] = (
        {"created": {"gte": int(since.timestamp())}} if since is not None else {}
    )
    progress = Progress(since)
    async for events in raw_pages(client.v1.events.list_async, params):
        inserted = await _file_missing(database, settings, events)
        progress = replace(
            progress,
            pages=progress.pages + 1,
            seen=progress.seen + len(events),
            inserted=progress.inserted + inserted,
        )
        on_page(progress)
    return progress


async def _window_start(database: Database, margin: timedelta) -> datetime | None:
    async with database.autocommit() as connection:
        newest: datetime | None = await connection.scalar(select(func.max(WebhookEvent.created)))
    return newest - margin if newest else None


async def _file_missing(database: Database, settings: Settings, events: list[StripeObject]) -> int:
    """Receive the events not yet filed (one read finds them); how many were new."""
    ids = [str(event["id"]) for event in events]
    known_query = select(WebhookEvent.stripe_event_id).where(WebhookEvent.stripe_event_id.in_(ids))
    async with database.autocommit() as connection:
        known = set(await connection.scalars(known_query))
    missing = [event for event in events if str(event["id"]) not in known]
    if not missing:
        return 0
    inserted = 0
    async with database.sessions() as session:
        for event in missing:
            parsed = inbox.parse_event(orjson.dumps(event), settings)
            inserted += await inbox.receive(session, parsed)
    return inserted
