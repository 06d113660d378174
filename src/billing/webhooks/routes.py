"""POST /api/stripe/webhook: verify, store, acknowledge; nothing else on this path."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.requests import Request

from billing.config import Settings
from billing.db import get_database
from billing.observability import WEBHOOK_DELIVERIES, WEBHOOK_VERIFICATION_FAILURES
from billing.webhooks import inbox
from billing.webhooks.signature import InvalidSignature, verify

router = APIRouter(prefix="/api/stripe", tags=["webhooks"])


class WebhookAck(BaseModel):
    received: bool
    duplicate: bool


@router.post("/webhook")
async def stripe_webhook(request: Request) -> WebhookAck:
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
    event = inbox.parse_event(payload)
    async with get_database(request).sessions() as session:
        new = await inbox.receive(session, event)
    WEBHOOK_DELIVERIES.labels(event.type, "stored" if new else "duplicate").inc()
    return WebhookAck(received=True, duplicate=not new)
