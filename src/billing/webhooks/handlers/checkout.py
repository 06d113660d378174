"""Checkout sessions: a paid one-time checkout buys credits; a subscription checkout links
the customer to the user and mirrors the subscription (its invoices grant the credits).

A session is this service's when its metadata names a `billing_user_id` (only the
service writes that; `client_reference_id` is not trusted; the plain keys of older
sessions: `stripe.metadata`). A one-time session carries the `billing_credits` the
service computed when it made it, so it is credited without a Stripe call; only sessions
made before the service wrote the credits have their line items priced here. A
subscription session's subscription is fetched only when the mirror lacks it. Every
call to Stripe here is made inside the worker's transaction, hence so few.

`checkout.session.completed` and `checkout.session.async_payment_succeeded` share one
ledger key per session, so a session is credited once whichever arrives (and however
often). An unpaid completion (a delayed payment method still pending) does nothing yet.
The credits open a `purchase` grant (default priority, never expiring), referenced by
the payment (its payment intent, else the session).
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog.service import credits_for
from billing.compliance import personal_data
from billing.core.errors import ValidationProblem
from billing.credits.accounts import PURCHASE
from billing.credits.grants import GrantTerms
from billing.payments import customers, recorded_payments, subscription_mirror
from billing.stripe.client import stripe_errors
from billing.stripe.metadata import checkout_user_id, metadata_credits
from billing.stripe.readers import StripeObject, data_list, object_id
from billing.webhooks.handlers.context import EventHandler, HandlerContext, event_object
from billing.webhooks.models import WebhookEvent

logger = structlog.get_logger(__name__)


async def _line_items(context: HandlerContext, checkout: StripeObject) -> list[StripeObject]:
    """The session's line items: from the payload when complete, else from Stripe."""
    included = checkout.get("line_items")
    if isinstance(included, dict) and not included.get("has_more"):
        return data_list(included)
    async with stripe_errors():
        listing = await context.stripe.v1.checkout.sessions.line_items.list_async(
            str(checkout["id"]), {"limit": 100}
        )
        return [item.to_dict(for_json=True) async for item in listing.auto_paging_iter()]


async def _priced_credits(
    context: HandlerContext, session: AsyncSession, checkout: StripeObject
) -> int:
    """Credits of the line items at today's catalog: for sessions without credits metadata."""
    total = 0
    for item in await _line_items(context, checkout):
        price_id = object_id(item.get("price"))
        if price_id:
            quantity = int(item.get("quantity") or 1)
            total += await credits_for(session, context.stripe, price_id, quantity) or 0
    return total


async def _credits(context: HandlerContext, session: AsyncSession, checkout: StripeObject) -> int:
    """The credits the service wrote on the session when it made it; malformed is a fault
    for a person (raised: retried, then dead and alerted), never a guess."""
    try:
        credits = metadata_credits(checkout, context.legacy_metadata_before)
    except ValueError as exc:
        raise ValidationProblem(str(exc)) from exc
    if credits is None:
        return await _priced_credits(context, session, checkout)
    return credits


async def _purchase(
    context: HandlerContext, session: AsyncSession, checkout: StripeObject, user_id: int
) -> None:
    session_id = str(checkout["id"])
    payment_intent_id = object_id(checkout.get("payment_intent"))
    stripe_id = payment_intent_id or session_id
    if await recorded_payments.already_succeeded(session, stripe_id):
        return
    payment = recorded_payments.StripePayment(
        stripe_id=stripe_id,
        kind="checkout",
        user_id=user_id,
        amount=int(checkout.get("amount_total") or 0),
        currency=str(checkout.get("currency") or ""),
        payment_intent_id=payment_intent_id,
    )
    credits = await _credits(context, session, checkout)
    key = f"stripe:checkout:{session_id}"
    await recorded_payments.record_purchase(
        session, PURCHASE, payment, credits=credits, key=key, grant=GrantTerms("purchase")
    )


async def _mirror_subscription(
    context: HandlerContext,
    session: AsyncSession,
    checkout: StripeObject,
    user_id: int,
    state_at: datetime,
) -> None:
    """Mirror the session's subscription: as expanded in the payload, else as already
    mirrored (its own events keep it current), else as Stripe has it now."""
    found = checkout.get("subscription")
    legacy_before = context.legacy_metadata_before
    if isinstance(found, dict):
        await subscription_mirror.apply(session, found, state_at, legacy_before=legacy_before)
        return
    if not isinstance(found, str):
        return
    row = await subscription_mirror.by_stripe_id(session, found)
    if row is not None:
        row.user_id = row.user_id or user_id
        return
    async with stripe_errors():
        subscription = await context.stripe.v1.subscriptions.retrieve_async(found)
    fetched = subscription.to_dict(for_json=True)
    await subscription_mirror.apply(session, fetched, state_at, legacy_before=legacy_before)


async def checkout_completed(
    context: HandlerContext, session: AsyncSession, event: WebhookEvent
) -> None:
    checkout = event_object(event)
    user_id = checkout_user_id(checkout, context.legacy_metadata_before)
    if user_id is None:
        logger.info("checkout_without_user", checkout_session=checkout.get("id"))
        return  # not started by this service: nobody to credit or link
    customer_id = object_id(checkout.get("customer"))
    if customer_id:
        await customers.link(session, user_id, customer_id)
        await personal_data.remember_checkout_contact(session, context.settings, user_id, checkout)
    mode = checkout.get("mode")
    if mode == "payment" and checkout.get("payment_status") == "paid":
        await _purchase(context, session, checkout, user_id)
    elif mode == "subscription":
        await _mirror_subscription(context, session, checkout, user_id, event.created)


HANDLERS: dict[str, EventHandler] = {
    "checkout.session.completed": checkout_completed,
    "checkout.session.async_payment_succeeded": checkout_completed,
}
