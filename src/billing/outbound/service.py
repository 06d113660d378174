"""Registering endpoints: create (the secret shown once), list, delete, rotate the secret.

Every change is an admin action in the audit log, written in the same transaction. A
rotated-out secret keeps signing beside the new one for `ROTATION_OVERLAP`, so a
receiver can take the new secret without losing a message.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.core.config import Settings
from billing.core.encryption import encrypt
from billing.core.errors import NotFound, ValidationProblem
from billing.core.times import utcnow
from billing.outbound import addresses
from billing.outbound.events import EVENT_TYPES, EVERY_EVENT
from billing.outbound.models import FAILED, PENDING, WebhookDelivery, WebhookEndpoint
from billing.outbound.signatures import new_secret

ROTATION_OVERLAP = timedelta(hours=24)


def _target(endpoint: WebhookEndpoint) -> str:
    return f"webhook_endpoint:{endpoint.id}"


def _events(events: list[str]) -> list[str]:
    """The subscription as stored: `["*"]`, or known types, each once, in order."""
    if EVERY_EVENT in events:
        if len(events) > 1:
            raise ValidationProblem('events: "*" stands alone.')
        return [EVERY_EVENT]
    unknown = [event for event in events if event not in EVENT_TYPES]
    if unknown:
        raise ValidationProblem(f"events: unknown type {unknown[0]!r}.")
    return list(dict.fromkeys(events))


async def _checked_url(settings: Settings, url: str) -> str:
    try:
        await addresses.check(url, production=settings.BILLING_ENV == "production")
    except addresses.Refused as refused:
        raise ValidationProblem(f"url: {refused}.") from refused
    return url


async def create(
    session: AsyncSession,
    settings: Settings,
    *,
    url: str,
    events: list[str],
    description: str | None,
    actor: str,
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its secret, which is never shown again."""
    subscribed = _events(events)
    secret, now = new_secret(), utcnow()
    endpoint = WebhookEndpoint(
        url=await _checked_url(settings, url),
        description=description,
        events=subscribed,
        secret_encrypted=encrypt(settings, secret),
        created_at=now,
        updated_at=now,
    )
    async with session.begin():
        session.add(endpoint)
        await session.flush()
        details = {"url": endpoint.url, "events": subscribed}
        await audit.record(
            session,
            actor=actor,
            action="webhook_endpoint.created",
            target=_target(endpoint),
            details=details,
        )
    return endpoint, secret


async def list_endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None))
    return list((await session.scalars(query.order_by(WebhookEndpoint.id))).all())


async def _live(session: AsyncSession, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await session.scalar(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.deleted_at.is_(None))
        .with_for_update()
    )
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


async def delete(session: AsyncSession, endpoint_id: int, *, actor: str) -> None:
    """The endpoint is gone; what was still to be sent to it ends `failed`, never sent."""
    async with session.begin():
        endpoint = await _live(session, endpoint_id)
        endpoint.deleted_at = endpoint.updated_at = now = utcnow()
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == PENDING)
            .values(status=FAILED, last_error="the endpoint was deleted", updated_at=now)
        )
        await audit.record(
            session, actor=actor, action="webhook_endpoint.deleted", target=_target(endpoint)
        )


async def rotate_secret(
    session: AsyncSession, settings: Settings, endpoint_id: int, *, actor: str
) -> tuple[WebhookEndpoint, str]:
    """A new secret; the one it replaces signs too for `ROTATION_OVERLAP`."""
    secret, now = new_secret(), utcnow()
    async with session.begin():
        endpoint = await _live(session, endpoint_id)
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_until = now + ROTATION_OVERLAP
        endpoint.secret_encrypted = encrypt(settings, secret)
        endpoint.updated_at = now
        await audit.record(
            session,
            actor=actor,
            action="webhook_endpoint.secret_rotated",
            target=_target(endpoint),
            details={"previous_secret_until": endpoint.previous_secret_until.isoformat()},
        )
    return endpoint, secret
