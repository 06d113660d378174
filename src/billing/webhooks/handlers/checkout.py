"""Checkout sessions: a paid one-time checkout buys credits; a subscription checkout links
the customer to the user and mirrors the subscription (its invoices grant the credits).

`checkout.session.completed` and `checkout.session.async_payment_succeeded` share one
ledger key per session, so a session is credited once whichever arrives (and however
often). An unpaid completion (a delayed payment method still pending) does nothing yet.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog.service import credits_for
from billing.credits.accounts import PURCHASE
from billing.payments import customers, mirror, records
from billing.stripe_api import stripe_errors
from billing.stripe_shapes import StripeObject, checkout_user_id, data_list, object_id
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


async def _credits(context: HandlerContext, session: AsyncSession, checkout: StripeObject) -> int:
    total = 0
    for item in await _line_items(context, checkout):
        price_id = object_id(item.get("price"))
        if price_id:
            quantity = int(item.get("quantity") or 1)
            total += await credits_for(session, context.stripe, price_id, quantity) or 0
    return total


async def _purchase(
    context: HandlerContext, session: AsyncSession, checkout: StripeObject, user_id: int
) -> None:
    session_id = str(checkout["id"])
    payment_intent_id = object_id(checkout.get("payment_intent"))
    stripe_id = payment_intent_id or session_id
    if await records.already_succeeded(session, stripe_id):
        return
    credits = await _credits(context, session, checkout)
    await records.post_credits(
        session,
        PURCHASE,
        user_id=user_id,
        credits=credits,
        key=f"stripe:checkout:{session_id}",
        reference=session_id,
    )
    await records.record_success(
        session,
        stripe_id=stripe_id,
        kind="checkout",
        user_id=user_id,
        amount=int(checkout.get("amount_total") or 0),
        currency=str(checkout.get("currency") or ""),
        credits=credits,
        payment_intent_id=payment_intent_id,
        charge_id=None,
        invoice_id=None,
        subscription_id=None,
    )


async def _subscription(context: HandlerContext, checkout: StripeObject) -> dict[str, Any] | None:
    """The session's subscription as Stripe has it now (the payload names only its id)."""
    found = checkout.get("subscription")
    if isinstance(found, dict):
        return found
    if not isinstance(found, str):
        return None
    async with stripe_errors():
        subscription = await context.stripe.v1.subscriptions.retrieve_async(found)
    result: dict[str, Any] = subscription.to_dict(for_json=True)
    return result


async def checkout_completed(
    context: HandlerContext, session: AsyncSession, event: WebhookEvent
) -> None:
    checkout = event_object(event)
    user_id = checkout_user_id(checkout)
    if user_id is None:
        logger.info("checkout_without_user", checkout_session=checkout.get("id"))
        return  # not started by this service: nobody to credit
    customer_id = object_id(checkout.get("customer"))
    if customer_id:
        await customers.link(session, user_id, customer_id)
    mode = checkout.get("mode")
    if mode == "payment" and checkout.get("payment_status") == "paid":
        await _purchase(context, session, checkout, user_id)
    elif mode == "subscription":
        subscription = await _subscription(context, checkout)
        if subscription is not None:
            await mirror.apply(session, subscription, event.created)


HANDLERS: dict[str, EventHandler] = {
    "checkout.session.completed": checkout_completed,
    "checkout.session.async_payment_succeeded": checkout_completed,
}
