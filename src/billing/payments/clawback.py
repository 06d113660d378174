"""Taking back the credits of money that went back: refunds and disputes, in proportion.

A payment of `amount` that bought `credits` owes back `credits * reversed / amount`
(rounded down, so a customer never loses more than they got back), where
`reversed` is everything refunded or disputed so far, capped at the amount. What
was already settled (taken, or recorded as unrecoverable) is subtracted, so each
event settles only the increase, and events in any order settle the same total.
A wallet never goes below zero: what it cannot cover is recorded, not taken. What it
can cover is what its spendable grants hold (expired ones not yet swept count for
nothing), and a claw-back takes first from the payment's own grant (the one its credits
opened, referenced by its `stripe_id`), then from the others in consumption order.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.accounts import REFUND_CLAWBACK, TransactionKind
from billing.credits.service import spendable_locked
from billing.payments import events
from billing.payments.events import ClawbackObject
from billing.payments.models import Payment
from billing.payments.recorded_payments import post_credits


@dataclass(frozen=True, slots=True)
class Clawback:
    take: int  # debit from the wallet now
    unrecovered: int  # owed, but the wallet does not hold it: recorded as lost


def clawback_due(
    credits: int, amount: int, reversed_amount: int, settled: int, balance: int
) -> Clawback:
    """What to settle now for a payment, given all that was reversed of it so far."""
    if credits <= 0 or amount <= 0:
        return Clawback(0, 0)
    target = credits * min(amount, max(reversed_amount, 0)) // amount
    return _split(max(target - settled, 0), balance)


def _split(due: int, balance: int) -> Clawback:
    """What of `due` a wallet holding `balance` can give back now."""
    take = min(due, max(balance, 0))
    return Clawback(take, due - take)


async def _settle(
    session: AsyncSession,
    payment: Payment,
    due: Clawback,
    *,
    kind: TransactionKind,
    key: str,
    reference: str,
    prefer_reference: str | None,
) -> Clawback:
    assert payment.user_id is not None, "credits are taken from a known user only"
    posted = await post_credits(
        session,
        kind,
        user_id=payment.user_id,
        credits=due.take,
        key=key,
        reference=reference,
        prefer_reference=prefer_reference,
    )
    payment.credits_clawed_back += due.take
    payment.credits_unrecovered += due.unrecovered
    if due.take or due.unrecovered:
        clawback = ClawbackObject(
            payment_id=payment.stripe_id,
            kind=kind.name,
            reason=reference,
            credits=due.take,
            unrecovered=due.unrecovered,
            transaction_id=posted.transaction_id if posted else None,
        )
        balance = posted.balance if posted else None
        events.clawed_back(session, payment.user_id, clawback, balance)
    return due


async def take_back(
    session: AsyncSession,
    payment: Payment,
    due: int,
    *,
    kind: TransactionKind,
    key: str,
    prefer_reference: str | None,
) -> Clawback:
    """Take `due` credits back from the payment's user, as far as the wallet can give
    them, first from the grants of `prefer_reference` (None: in consumption order); the
    rest is recorded on the payment as unrecovered."""
    assert payment.user_id is not None, "credits are taken from a known user only"
    split = _split(due, await spendable_locked(session, payment.user_id))
    return await _settle(
        session,
        payment,
        split,
        kind=kind,
        key=key,
        reference=payment.stripe_id,
        prefer_reference=prefer_reference,
    )


async def claw_back(
    session: AsyncSession, payment: Payment, *, key: str, reference: str
) -> Clawback:
    """Settle `payment`'s refunds and disputes as they now stand (the row is locked);
    what this settled."""
    if payment.user_id is None:
        return Clawback(0, 0)
    due = clawback_due(
        payment.credits,
        max(payment.amount, payment.credit_basis or 0),
        payment.amount_refunded + payment.amount_disputed,
        payment.credits_clawed_back + payment.credits_unrecovered,
        await spendable_locked(session, payment.user_id),
    )
    return await _settle(
        session,
        payment,
        due,
        kind=REFUND_CLAWBACK,
        key=key,
        reference=reference,
        prefer_reference=payment.stripe_id,
    )
