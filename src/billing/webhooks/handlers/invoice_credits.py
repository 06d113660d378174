"""What a paid subscription invoice is worth in credits: its lines, never what paid it.

A customer-balance credit, a coupon or tax changes what an invoice collects, not what
it bought, so the credits follow the subscription's lines:
- a period line (a subscription item billed for its period): the plan's `credits` times
  the quantity; a trial's zero line (a plan that is not free, billed 0) the plan's
  `trial_credits`; a line of quantity 0 (no seats) nothing;
- a proration line: the plan's credits for the line's quantity, times the line's amount
  over the plan's full amount at that quantity. Both are before discounts and on the
  price's own tax basis (a tax-inclusive price's line includes the same tax), so the
  share is the pre-tax share. Negative lines (unused time of the plan left) take back.
The prorated credits of an invoice are summed exactly and rounded toward zero: neither
a grant nor a take-back ever counts a fraction of a credit that was not paid for or
returned. One-off invoice items grant nothing. When a proration's share cannot be told
(a price without a unit amount, or in another currency), no proration of the invoice
counts, and that is reported.

An invoice's credits open one grant (source `subscription`), on the terms of the price
(else product) metadata of its lines that grant: `credits_expiry` (`never`, `period_end`
of the line's period, `<N>d` after the grant) and `credits_priority`. Lines of different
terms (several items, or a plan change) still make one grant, on the strictest terms:
the lowest priority and the earliest expiry, so no credit outlives the terms it was
sold on. An expiry already past at the grant is left out while another is not: a
proration left pending until a renewal names a period that has just ended, and must not
expire the renewal's credits at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog.service import PlanTerms, plan_terms
from billing.credits.grants import GrantTerms
from billing.stripe.readers import (
    StripeObject,
    line_is_proration,
    line_is_subscription,
    line_period_end,
    line_price_id,
)
from billing.webhooks.handlers.context import HandlerContext

SOURCE = "subscription"  # of the grants subscription invoices open


@dataclass(frozen=True, slots=True)
class Line:
    """An invoice line with the terms of its price."""

    amount: int  # before discounts, on the price's tax basis; < 0 gives back
    quantity: int
    proration: bool
    terms: PlanTerms
    period_end: datetime | None = None  # of the period the line bills


@dataclass(frozen=True, slots=True)
class Worth:
    """An invoice's credits (< 0: owed back), the terms of the grant they open, and the
    lines that could not be priced."""

    credits: int
    terms: GrantTerms
    unpriced: list[str]


def _period_credits(line: Line) -> int:
    """A zero line of a plan that is not free (a unit amount above 0, or none known: tiered)
    is a trial's."""
    trial = line.amount == 0 and line.terms.price.unit_amount != 0
    return (line.terms.trial_credits if trial else line.terms.credits) * line.quantity


def _unpriced(line: Line, currency: str) -> str | None:
    """Why a proration line's share of a full period cannot be told, if it cannot."""
    price = line.terms.price
    if not price.unit_amount:
        return f"{price.stripe_id} has no unit amount"
    if price.currency != currency:
        return f"{price.stripe_id} is priced in {price.currency}, not {currency}"
    return None


def worth(lines: list[Line], currency: str, granted_at: datetime) -> Worth:
    """The period lines' credits, and the prorations' unless one of them cannot be priced:
    then none of them count (a plan change counted on one side only would take back an
    upgrade, or grant a downgrade). The grant's terms are those of the lines counted."""
    prorations = [line for line in lines if line.proration and line.terms.credits and line.amount]
    periods = [line for line in lines if not line.proration]
    credits = sum(map(_period_credits, periods))
    unpriced = [p for line in prorations if (p := _unpriced(line, currency))]
    if unpriced:
        return Worth(credits, grant_terms(periods, granted_at), unpriced)
    credits += math.trunc(sum(map(_prorated, prorations), Fraction(0)))
    return Worth(credits, grant_terms(periods + prorations, granted_at), [])


def _grants(line: Line) -> bool:
    """Whether the line adds credits (rather than nothing, or taking some back)."""
    if line.proration:
        return line.amount > 0 and line.terms.credits > 0
    return _period_credits(line) > 0


def grant_terms(lines: list[Line], granted_at: datetime) -> GrantTerms:
    """The terms of the one grant the invoice's credits open (see the module docstring)."""
    granting = [line for line in lines if _grants(line)]
    priority = min((_terms(line).effective_priority for line in granting), default=None)
    expiries = [line.terms.expiry.at(granted_at, line.period_end) for line in granting]
    return GrantTerms(SOURCE, priority, _earliest(expiries, granted_at))


def _terms(line: Line) -> GrantTerms:
    return GrantTerms(SOURCE, line.terms.priority)


def _earliest(expiries: list[datetime | None], granted_at: datetime) -> datetime | None:
    """The earliest expiry still ahead at `granted_at` (None: never, the latest of all);
    when every one has passed, the earliest."""
    ahead = [at for at in expiries if at is None or at > granted_at]
    if ahead:
        return min(ahead, key=lambda at: (at is None, at or granted_at))
    return min((at for at in expiries if at is not None), default=None)


def _prorated(line: Line) -> Fraction:
    full = (line.terms.price.unit_amount or 0) * line.quantity
    return Fraction(line.terms.credits * line.quantity * line.amount, full)


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
        amount, quantity = int(line.get("amount") or 0), line.get("quantity")
        quantity = 1 if quantity is None else int(quantity)  # a seat count of 0 stays 0
        if quantity <= 0:
            continue
        trial = not proration and amount == 0
        terms = await plan_terms(session, context.stripe, price_id, trial=trial)
        if terms is not None:
            found.append(Line(amount, quantity, proration, terms, line_period_end(line)))
    return found
