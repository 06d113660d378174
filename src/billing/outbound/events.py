"""The event types the platform can subscribe to (DESIGN, "Webhooks to the platform")."""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "credits.granted",
    "credits.low",
    "credits.depleted",
    "credits.expired",
    "credits.clawed_back",
    "hold.expired",
    "subscription.created",
    "subscription.updated",
    "subscription.canceled",
    "payment.succeeded",
    "payment.failed",
    "topup.succeeded",
    "topup.failed",
    "topup.limit_reached",
)
EVERY_EVENT = "*"
