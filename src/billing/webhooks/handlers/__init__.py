"""Event handlers: one module per kind of Stripe object, each listing what it handles.

A handler runs inside the worker's transaction, beside the other handlers of its
batch, and must do all its writes through the session it is given, so its effects
commit together with the event being marked processed. It raises to have the event
retried, and never catches a database error to carry on: on PostgreSQL that error has
aborted the transaction (the worker then reruns the batch with a savepoint per handler).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.config import Settings
from billing.webhooks import personal_fields
from billing.webhooks.handlers import (
    catalog,
    checkout,
    disputes,
    invoices,
    payment_intents,
    subscriptions,
)
from billing.webhooks.handlers.context import EventHandler, HandlerContext
from billing.webhooks.models import WebhookEvent
from billing.webhooks.processing import Handler, Ignored

MODULES = (catalog, checkout, payment_intents, invoices, subscriptions, disputes)


def registry(context: HandlerContext) -> Mapping[str, Handler]:
    """Every handled event type, bound to the context handlers need, for events of the
    configured key's mode only (`livemode`): a test-mode secret left in the rotation list
    of a live service must not let a 4242 payment grant real credits. Handlers read the
    payload with its personal fields decrypted (`personal_fields.readable`)."""
    handlers: dict[str, EventHandler] = {}
    for module in MODULES:
        handlers.update(module.HANDLERS)
    return {
        event_type: partial(_in_mode, context.settings, partial(handler, context))
        for event_type, handler in handlers.items()
    }


async def _in_mode(
    settings: Settings, handler: Handler, session: AsyncSession, event: WebhookEvent
) -> None:
    livemode = settings.stripe_livemode
    if event.livemode != livemode:
        raise Ignored(f"livemode {event.livemode} event; the configured key's is {livemode}")
    await handler(session, personal_fields.readable(settings, event))
