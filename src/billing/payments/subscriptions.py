"""Direct subscriptions: start one on a catalog price, cancel one; the mirror follows.

A subscription starts `default_incomplete`: Stripe finalizes the first invoice and
waits. With a saved payment method the service confirms that invoice's payment at
once: a plain card makes the subscription active; a card that needs 3-D Secure
leaves it `incomplete` with the client secret Stripe.js needs to finish; a decline
is a 402 `card_declined`, and the subscription it leaves is canceled so nothing
stays open. Without a payment method the client secret is returned for Stripe.js
to collect the card.

Each Stripe call is keyed from the request's own key, so a retried request repeats
nothing; a cancel that a retry finds already done (Stripe refuses to cancel twice) counts
as done. Every state read from Stripe is mirrored with the second the read began.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime

import stripe
import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from stripe.params import SubscriptionCreateParams

from billing.catalog.service import snapshot_time
from billing.core.config import Settings
from billing.core.errors import CardDeclined, StripeProblem
from billing.payments import subscription_mirror
from billing.payments.customers import ensure_customer
from billing.payments.errors import UnknownPaymentMethod
from billing.payments.models import SUBSCRIPTION_ENDED, Subscription
from billing.payments.pricing import sellable_price
from billing.payments.schemas import SubscriptionRequest
from billing.stripe.client import derive_key, stripe_errors
from billing.stripe.metadata import written
from billing.stripe.readers import StripeObject, invoice_confirmation, invoice_intent_expansion

logger = structlog.get_logger(__name__)
PENDING = "incomplete"  # the first payment still needs the customer


@dataclass(frozen=True, slots=True)
class Started:
    subscription_id: str
    status: str
    client_secret: str | None


async def _read(call: Awaitable[stripe.Subscription]) -> tuple[StripeObject, datetime]:
    """A subscription from Stripe and the time of the state it shows: taken before the
    call, in whole seconds like event times, so no later event counts as stale."""
    state_at = snapshot_time()
    async with stripe_errors():
        found = await call
    return found.to_dict(for_json=True), state_at


async def _mirror(
    session: AsyncSession, subscription: StripeObject, state_at: datetime
) -> Subscription:
    """Mirror a subscription started here (with today's metadata) or one of the user's
    being canceled (already linked): no old metadata keys need reading."""
    async with session.begin():
        return await subscription_mirror.apply(session, subscription, state_at, legacy_before=None)


async def _make_default(
    client: stripe.StripeClient, customer: str, method: str, stripe_key: str
) -> str:
    """Attach the payment method to the customer and make it the invoices' default; the
    attached method's id (a test token such as `pm_card_visa` attaches as a new one)."""
    async with stripe_errors():
        try:
            attached = await client.v1.payment_methods.attach_async(
                method,
                {"customer": customer},
                {"idempotency_key": derive_key(stripe_key, "attach")},
            )
        except stripe.InvalidRequestError as exc:  # the caller's mistake, not Stripe's failure
            if exc.code == "resource_missing" and exc.param == "payment_method":
                raise UnknownPaymentMethod(f"There is no payment method {method}.") from exc
            raise
        await client.v1.customers.update_async(
            customer,
            {"invoice_settings": {"default_payment_method": attached.id}},
            {"idempotency_key": derive_key(stripe_key, "default")},
        )
    return attached.id


async def _cancel_now(
    client: stripe.StripeClient, subscription_id: str, stripe_key: str
) -> tuple[StripeObject, datetime]:
    """End the subscription now. A retried request may find it ended already (its first
    attempt canceled it, then died): Stripe refuses the second cancel, so the state is
    read instead, and stands for the outcome the first attempt had."""
    options: stripe.RequestOptions = {"idempotency_key": stripe_key}
    try:
        return await _read(client.v1.subscriptions.cancel_async(subscription_id, None, options))
    except StripeProblem:
        found, state_at = await _read(client.v1.subscriptions.retrieve_async(subscription_id))
        if found.get("status") not in SUBSCRIPTION_ENDED:
            raise
        return found, state_at


async def _abandon(
    session: AsyncSession, client: stripe.StripeClient, subscription_id: str, stripe_key: str
) -> None:
    """Cancel a subscription whose first payment was declined. Should that fail too,
    Stripe expires incomplete subscriptions itself after a day."""
    try:
        canceled, state_at = await _cancel_now(
            client, subscription_id, derive_key(stripe_key, "abandon")
        )
    except StripeProblem as exc:
        logger.warning("abandon_subscription_failed", subscription=subscription_id, **exc.extra)
        return
    await _mirror(session, canceled, state_at)


async def _pay_first_invoice(
    session: AsyncSession,
    client: stripe.StripeClient,
    subscription_id: str,
    intent_id: str,
    method: str,
    stripe_key: str,
) -> None:
    try:
        async with stripe_errors():
            await client.v1.payment_intents.confirm_async(
                intent_id,
                {"payment_method": method, "use_stripe_sdk": True},
                {"idempotency_key": derive_key(stripe_key, "confirm")},
            )
    except CardDeclined:
        await _abandon(session, client, subscription_id, stripe_key)
        raise


async def start(
    session: AsyncSession,
    client: stripe.StripeClient,
    settings: Settings,
    order: SubscriptionRequest,
    stripe_key: str,
) -> Started:
    """Subscribe the user to a recurring catalog price, paying with `payment_method_id`
    when given; mirrors the outcome."""
    await sellable_price(session, client, order.price_id, "recurring")
    customer = await ensure_customer(session, client, order.user_id)
    method = order.payment_method_id
    if method:
        method = await _make_default(client, customer, method, stripe_key)
    api_version = settings.STRIPE_API_VERSION or stripe.api_version
    expand = [f"latest_invoice.{invoice_intent_expansion(api_version)}"]
    params: SubscriptionCreateParams = {
        "customer": customer,
        "items": [{"price": order.price_id}],
        "metadata": written(order.user_id),
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "expand": expand,
    }
    if method:
        params["default_payment_method"] = method
    options: stripe.RequestOptions = {"idempotency_key": derive_key(stripe_key, "create")}
    subscription, state_at = await _read(client.v1.subscriptions.create_async(params, options))
    subscription_id = str(subscription["id"])
    intent_id, _ = invoice_confirmation(subscription.get("latest_invoice") or {})
    if method and intent_id and subscription["status"] == PENDING:
        await _pay_first_invoice(session, client, subscription_id, intent_id, method, stripe_key)
        retrieve = client.v1.subscriptions.retrieve_async(subscription_id, {"expand": expand})
        subscription, state_at = await _read(retrieve)
    await _mirror(session, subscription, state_at)
    _, secret = invoice_confirmation(subscription.get("latest_invoice") or {})
    status = str(subscription["status"])
    return Started(subscription_id, status, secret if status == PENDING else None)


async def cancel(
    session: AsyncSession,
    client: stripe.StripeClient,
    row: Subscription,
    at_period_end: bool,
    stripe_key: str,
) -> Subscription:
    """Cancel now, or at the end of the paid period (it stays active until then); a
    subscription that already ended is returned as it is."""
    if row.status in SUBSCRIPTION_ENDED:
        return row
    stripe_id = row.stripe_subscription_id
    if not at_period_end:
        return await _mirror(session, *await _cancel_now(client, stripe_id, stripe_key))
    call = client.v1.subscriptions.update_async(
        stripe_id, {"cancel_at_period_end": True}, {"idempotency_key": stripe_key}
    )
    return await _mirror(session, *await _read(call))
