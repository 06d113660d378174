"""POST /api/stripe/webhook (verify, store, acknowledge; nothing else on that path) and
the admin's view of the inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from billing.auth.dependencies import AdminPrincipal
from billing.core.config import Settings
from billing.core.pagination import decode_cursor, page_of
from billing.db.engine import get_database
from billing.db.replica import get_read_database
from billing.idempotency.route import IdempotentRoute
from billing.obs.metrics import WEBHOOK_DELIVERIES, WEBHOOK_VERIFICATION_FAILURES, series
from billing.webhooks import admin, inbox
from billing.webhooks.models import EventStatus, WebhookEvent
from billing.webhooks.personal_fields import masked
from billing.webhooks.schemas import InboxEvent, InboxEventDetail, InboxPage, WebhookAck
from billing.webhooks.signature import InvalidSignature, verify

router = APIRouter(prefix="/api/stripe", tags=["webhooks"])
admin_router = APIRouter(
    prefix="/api/admin/webhooks", tags=["webhooks"], route_class=IdempotentRoute
)


# The two answers (by whether the event is new), encoded once rather than per delivery.
ACKS = {
    new: WebhookAck(received=True, duplicate=not new).model_dump_json().encode()
    for new in (True, False)
}


@router.post("/webhook", response_model=WebhookAck)
async def stripe_webhook(request: Request) -> Response:
    """Stripe's signature is the credential. A 200 means the event is on disk; a
    redelivery returns 200 and changes nothing; a 503 makes Stripe retry."""
    settings: Settings = request.app.state.settings
    payload = await request.body()
    try:
        verify(
            payload,
            request.headers.get("stripe-signature"),
            settings.webhook_secrets,
            settings.STRIPE_WEBHOOK_TOLERANCE,
        )
    except InvalidSignature:
        WEBHOOK_VERIFICATION_FAILURES.inc()
        raise
    event = inbox.parse_event(payload, settings)
    new = await inbox.store(get_database(request), event)
    series(WEBHOOK_DELIVERIES, event.type, "stored" if new else "duplicate").inc()
    return Response(ACKS[new], media_type="application/json")


def _summary(event: WebhookEvent) -> InboxEvent:
    return InboxEvent(
        id=event.stripe_event_id,
        type=event.type,
        status=event.status,
        attempts=event.attempts,
        last_error=event.last_error,
        received_at=event.received_at,
        next_attempt_at=event.next_attempt_at,
        processed_at=event.processed_at,
    )


@admin_router.get("")
async def list_inbox(
    request: Request,
    principal: AdminPrincipal,
    status: EventStatus | None = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> InboxPage:
    before = decode_cursor(cursor)
    async with (await get_read_database(request)).sessions() as session:
        rows = await admin.list_events(session, status, before, limit + 1)
    shown, after = page_of(rows, limit)
    return InboxPage(
        data=[_summary(event) for event in shown], has_more=after is not None, next_cursor=after
    )


@admin_router.get("/{event_id}")
async def get_event(event_id: str, request: Request, principal: AdminPrincipal) -> InboxEventDetail:
    """One event: its processing state and its payload, personal values masked."""
    async with get_database(request).sessions() as session:  # read after a replay
        found = await admin.event(session, event_id)
    return InboxEventDetail(
        **_summary(found).model_dump(),
        api_version=found.api_version,
        livemode=found.livemode,
        created=found.created,
        payload=masked(found.payload) if found.payload is not None else None,
    )


@admin_router.post("/{event_id}/replay")
async def replay_event(event_id: str, request: Request, principal: AdminPrincipal) -> InboxEvent:
    async with get_database(request).sessions() as session:
        return _summary(await admin.replay(session, event_id, principal.scope))
