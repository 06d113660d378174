"""A user's subscription at a glance: the current plan, its renewal, what it costs
and has granted.

Money comes from the payment records (what Stripe reported paid), credits from the
ledger (what was actually granted), the plan from the subscription mirror and its
credits from the catalog; all read in one transaction, so they agree with each other.
A price the catalog mirror lacks is fetched from Stripe after that transaction, never
inside it (on SQLite it would hold the write lock while Stripe answers).
"""

from __future__ import annotations

from collections import defaultdict

import stripe
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog.models import Product
from billing.credits.accounts import SUBSCRIPTION_CLAWBACK, SUBSCRIPTION_GRANT
from billing.credits.models import CreditTransaction
from billing.payments import pricing, repository
from billing.payments.models import SUBSCRIPTION_ENDED, SUCCEEDED, Payment, Subscription
from billing.reporting.schemas import CurrencyTotal, Plan, SubscriptionSummary, SubscriptionTotals

RENEWING = frozenset({"active", "trialing", "past_due"})


def _plan(subscription: Subscription, product: Product | None) -> Plan:
    return Plan(
        subscription_id=subscription.stripe_subscription_id,
        price_id=subscription.price_id,
        product_id=subscription.product_id,
        product_name=product.name if product else None,
        quantity=subscription.quantity,
        currency=subscription.currency,
        unit_amount=subscription.unit_amount,
        interval=subscription.interval,
        interval_count=subscription.interval_count,
    )


async def _credits_granted(session: AsyncSession, user_id: int) -> int:
    """Granted by subscription invoices, less what downgrades took back."""
    signed = case(
        (CreditTransaction.kind == SUBSCRIPTION_CLAWBACK.name, -CreditTransaction.amount),
        else_=CreditTransaction.amount,
    )
    total = await session.scalar(
        select(func.coalesce(func.sum(signed), 0)).where(
            CreditTransaction.user_id == user_id,
            CreditTransaction.kind.in_((SUBSCRIPTION_GRANT.name, SUBSCRIPTION_CLAWBACK.name)),
        )
    )
    return int(total or 0)


def _paid(payments: list[Payment]) -> list[CurrencyTotal]:
    """Succeeded subscription payments, summed per currency."""
    paid: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for payment in payments:
        if payment.status == SUCCEEDED and payment.subscription_id is not None:
            paid[payment.currency][0] += payment.amount
            paid[payment.currency][1] += payment.amount_refunded
    return [
        CurrencyTotal(currency=currency, amount_paid=amounts[0], amount_refunded=amounts[1])
        for currency, amounts in sorted(paid.items())
    ]


async def subscription_summary(
    session: AsyncSession, client: stripe.StripeClient, user_id: int
) -> SubscriptionSummary:
    """The newest subscription that has not ended is the user's plan."""
    async with session.begin():
        subscriptions = await repository.subscriptions_for_user(session, user_id)
        current = next((s for s in subscriptions if s.status not in SUBSCRIPTION_ENDED), None)
        price_id = current.price_id if current else None
        found = await pricing.mirrored(session, price_id) if price_id else None
        totals = SubscriptionTotals(
            credits_granted=await _credits_granted(session, user_id),
            payments=_paid(await repository.payments_for_user(session, user_id)),
        )
    if price_id:
        found = await pricing.complete(session, client, price_id, found)
    plan = _plan(current, found.product if found else None) if current else None
    per_cycle = found.credits(current.quantity) if found and current else None
    period_end = current.current_period_end if current else None
    ending = current is not None and current.cancel_at_period_end
    renewing = current is not None and current.status in RENEWING and not ending
    return SubscriptionSummary(
        user_id=user_id,
        plan=plan,
        status=current.status if current else None,
        renews_at=period_end if renewing else None,
        ends_at=period_end if ending else None,
        credits_per_cycle=per_cycle,
        totals=totals,
    )
