"""A user's payments with Stripe's copies of them: the hosted invoice page and the
charge's receipt. Webhook payloads do not carry the receipt (it is on the charge), so
each link is asked of Stripe the first time a payment is shown, then kept on the
payment; a link Stripe does not answer for is simply missing this time."""

from __future__ import annotations

import asyncio

import stripe
import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments.customers import customer_id_for
from billing.payments.models import Payment
from billing.payments.schemas import SavedCardView
from billing.stripe.client import stripe_errors
from billing.stripe.readers import StripeObject

logger = structlog.get_logger(__name__)
NONE = ""  # kept when Stripe had no such copy: not asked again


async def page(
    session: AsyncSession, client: stripe.StripeClient, user_id: int, before: int | None, limit: int
) -> list[Payment]:
    """Up to `limit` of the user's payments before the cursor's, newest first, with their
    links found."""
    query = select(Payment).where(Payment.user_id == user_id)
    if before is not None:
        query = query.where(Payment.id < before)
    async with session.begin():
        rows = list(await session.scalars(query.order_by(Payment.id.desc()).limit(limit)))
    missing = [row for row in rows if _lacks_links(row)]
    found = await asyncio.gather(*(_links(client, row) for row in missing))
    async with session.begin():
        for row, (invoice_url, receipt_url) in zip(missing, found, strict=True):
            values = {"hosted_invoice_url": invoice_url, "receipt_url": receipt_url}
            kept = {name: value for name, value in values.items() if value is not None}
            if kept:
                await session.execute(update(Payment).where(Payment.id == row.id).values(**kept))
                for name, value in kept.items():
                    setattr(row, name, value)
    return rows


def _lacks_links(row: Payment) -> bool:
    paid = row.status == "succeeded" and (row.payment_intent_id or row.charge_id)
    return bool(
        (row.invoice_id and row.hosted_invoice_url is None) or (paid and row.receipt_url is None)
    )


async def _links(client: stripe.StripeClient, row: Payment) -> tuple[str | None, str | None]:
    """(hosted invoice page, receipt) as Stripe has them; None for what it did not answer."""
    invoice_url = receipt_url = None
    try:
        if row.invoice_id and row.hosted_invoice_url is None:
            invoice = await client.v1.invoices.retrieve_async(row.invoice_id)
            invoice_url = str(invoice.to_dict().get("hosted_invoice_url") or NONE)
        if row.status == "succeeded" and row.receipt_url is None:
            receipt_url = await _receipt(client, row)
    except stripe.StripeError as exc:
        logger.info("payment_links_unanswered", payment_id=row.id, error=type(exc).__name__)
    return invoice_url, receipt_url


async def _receipt(client: stripe.StripeClient, row: Payment) -> str | None:
    charge: StripeObject | None = None
    if row.charge_id:
        charge = (await client.v1.charges.retrieve_async(row.charge_id)).to_dict()
    elif row.payment_intent_id:
        intent = await client.v1.payment_intents.retrieve_async(
            row.payment_intent_id, {"expand": ["latest_charge"]}
        )
        found = intent.to_dict().get("latest_charge")
        charge = found if isinstance(found, dict) else None
    if charge is None:  # no charge yet: asked again next time
        return None
    return str(charge.get("receipt_url") or NONE)


async def saved_card(
    session: AsyncSession, client: stripe.StripeClient, user_id: int
) -> SavedCardView | None:
    """The brand, last 4 and expiry of the customer's default card; None without one."""
    async with session.begin():
        customer = await customer_id_for(session, user_id)
    if customer is None:
        return None
    async with stripe_errors():
        found = (
            await client.v1.customers.retrieve_async(
                customer, {"expand": ["invoice_settings.default_payment_method"]}
            )
        ).to_dict()
    method = (found.get("invoice_settings") or {}).get("default_payment_method")
    card = method.get("card") if isinstance(method, dict) else None
    if found.get("deleted") or not isinstance(card, dict):
        return None
    return SavedCardView(
        brand=card.get("brand"),
        last4=card.get("last4"),
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )
