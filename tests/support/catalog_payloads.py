"""Stripe product and price objects in both API shapes, and the way events carrying them
reach the mirror: the inbox, then the real worker."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import select

from billing.catalog.models import Price, Product
from billing.catalog.repository import current_version
from billing.core.config import Settings
from billing.db.engine import Database
from billing.webhooks import inbox
from billing.webhooks.handlers import registry
from billing.webhooks.handlers.context import HandlerContext
from billing.webhooks.models import WebhookEvent
from billing.webhooks.processing import process_next
from tests.support.stripe_events import stripe_event
from tests.support.stripe_reference import FIXTURES

OLD_VERSION, NEW_VERSION = "2023-10-16", "2026-07-29.dahlia"


@cache
def _fixtures() -> dict[str, Any]:
    resources: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"]
    return resources


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:14]}"


def product_2026(**fields: Any) -> dict[str, Any]:
    """Today's product, from Stripe's own fixture (`marketing_features`, `default_price`)."""
    product: dict[str, Any] = copy.deepcopy(_fixtures()["product"])
    product.update(id=new_id("prod"), metadata={})
    product.update(fields)
    return product


def product_2023(**fields: Any) -> dict[str, Any]:
    """A product as API version 2023-10-16 sent it: `features`, no `marketing_features`."""
    product = {
        "id": new_id("prod"),
        "object": "product",
        "active": True,
        "created": 1697500000,
        "default_price": None,
        "description": None,
        "features": [],
        "images": [],
        "livemode": False,
        "metadata": {},
        "name": "Starter",
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "unit_label": None,
        "updated": 1697500000,
        "url": None,
    }
    product.update(fields)
    return product


def price_2026(product: str | dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Today's recurring price, from Stripe's fixture (`recurring.meter`)."""
    price: dict[str, Any] = copy.deepcopy(_fixtures()["price"])
    price.update(id=new_id("price"), product=product, metadata={}, transform_quantity=None)
    price.update(fields)
    return price


def price_2023(product: str | dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A recurring price as API version 2023-10-16 sent it (`recurring.aggregate_usage`)."""
    price = {
        "id": new_id("price"),
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": 1697500000,
        "currency": "usd",
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": product,
        "recurring": {
            "aggregate_usage": None,
            "interval": "month",
            "interval_count": 1,
            "usage_type": "licensed",
        },
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": 2000,
        "unit_amount_decimal": "2000",
    }
    price.update(fields)
    return price


def event_body(
    event_type: str, obj: dict[str, Any], created: datetime, api_version: str = NEW_VERSION
) -> bytes:
    return stripe_event(
        event_type,
        data={"object": obj},
        created=int(created.timestamp()),
        api_version=api_version,
    )


async def deliver(database: Database, settings: Settings, *bodies: bytes) -> list[str]:
    """Receive events into the inbox, then let the worker process them; their statuses."""
    ids = []
    for body in bodies:
        event = inbox.parse_event(body, settings)
        ids.append(event.id)
        async with database.sessions() as session:
            await inbox.receive(session, event)
    handlers = registry(HandlerContext(settings=settings, stripe_client=None))
    while await process_next(database, handlers):
        pass
    return await statuses(database, ids)


async def statuses(database: Database, ids: list[str]) -> list[str]:
    query = select(WebhookEvent.stripe_event_id, WebhookEvent.status).where(
        WebhookEvent.stripe_event_id.in_(ids)
    )
    async with database.sessions() as session:
        found = {event_id: status for event_id, status in (await session.execute(query)).all()}
    return [found[event_id] for event_id in ids]


async def stored(database: Database, model: type[Product] | type[Price], stripe_id: str) -> Any:
    """A mirrored row as a fresh session reads it (None when it is not mirrored)."""
    async with database.sessions() as session:
        return await session.get(model, stripe_id)


async def version(database: Database) -> int:
    """The catalog version, which every process's cache compares with its own."""
    async with database.sessions() as session:
        return await current_version(session)
