"""What a paid subscription invoice is worth in credits: its lines, never what paid it.

A customer-balance credit, a coupon or tax changes what an invoice collects, not what
it bought, so the credits follow the subscription's lines:
- a period line (a subscription item billed for its period): the plan's `credits` times
  the quantity; a trial's zero line (a priced plan billed 0) the plan's `trial_credits`;
- a proration line: the plan's credits for the line's quantity, times the line's amount
  over the plan's full amount at that quantity. Both are before discounts and on the
  price's own tax basis (a tax-inclusive price's line includes the same tax), so the
  share is the pre-tax share. Negative lines (unused time of the plan left) take back.
The prorated credits of an invoice are summed exactly and rounded toward zero: neither
a grant nor a take-back ever counts a fraction of a credit that was not paid for or
returned. One-off invoice items grant nothing. A proration whose share cannot be told
(a price without a unit amount, or in another currency) counts nothing and is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog.service import PlanTerms, plan_terms
from billing.stripe.readers import (
    StripeObject,
    line_is_proration,
    line_is_subscription,
    line_price_id,
)
from billing.webhooks.handlers.context import HandlerContext


@dataclass(frozen=True, slots=True)
class Line:
    """An invoice line with the terms of its price."""

    amount: int  # before discounts, on the price's tax basis; < 0 gives back
    quantity: int
    proration: bool
    terms: PlanTerms


@dataclass(slots=True)
class Worth:
    """An invoice's credits (< 0: owed back), and the lines that could not be priced."""

    credits: int = 0
    unpriced: list[str] = field(default_factory=list)


def _period_credits(line: Line) -> int:
    full = (line.terms.price.unit_amount or 0) * line.quantity
    per_unit = line.terms.trial_credits if line.amount == 0 and full > 0 else line.terms.credits
    return per_unit * line.quantity


def _unpriced(line: Line, currency: str) -> str | None:
    """Why a proration line's share of a full period cannot be told, if it cannot."""
    price = line.terms.price
    if not price.unit_amount:
        return f"{price.stripe_id} has no unit amount"
    if price.currency != currency:
        return f"{price.stripe_id} is priced in {price.currency}, not {currency}"
    return None


def worth(lines: list[Line], currency: str) -> Worth:
    result, prorated = Worth(), Fraction(0)
    for line in lines:
        if not line.proration:
            result.credits += _period_credits(line)
            continue
        if not line.terms.credits or not line.amount:
            continue
        problem = _unpriced(line, currency)
        if problem:
            result.unpriced.append(problem)
            continue
        full = (line.terms.price.unit_amount or 0) * line.quantity
        prorated += Fraction(line.terms.credits * line.quantity * line.amount, full)
    result.credits += math.trunc(prorated)
    return result


async def priced_lines(
    context: HandlerContext, session: AsyncSession, lines: list[StripeObject]
) -> list[Line]:
    """The subscription and proration lines of an invoice, with their prices' terms."""
    found: list[Line] = []
    for line in lines:
        price_id = line_price_id(line)
        proration = line_is_proration(line)
        if price_id is None or not (proration or line_is_subscription(line)):
            continue
        amount = int(line.get("amount") or 0)
        trial = not proration and amount == 0
        terms = await plan_terms(session, context.stripe, price_id, trial=trial)
        if terms is not None:
            found.append(Line(amount, int(line.get("quantity") or 1), proration, terms))
    return found
