"""Disputes: the credits a dispute claws back when its funds go, and gives back when it
is won.

Stripe tells a dispute's story in several events, in any order, each carrying the
dispute as it stood then. The handler reads from each what it says (`DisputeNews`):

- the funds went: `charge.dispute.funds_withdrawn`, or the dispute in a status that
  only a withdrawn dispute has (`WITHDRAWN_STATUSES`: `needs_response`, `under_review`,
  `lost`);
- the funds came back: `charge.dispute.funds_reinstated`, or the dispute `won`;
- nothing: an inquiry (`warning_needs_response`, `warning_under_review`,
  `warning_closed`), a question from the card network that moves no money.

Each dispute is settled here once each way, whichever of its events comes first, and
however often they come again (a row per dispute, locked after its payment's row):

- **withdrawn**: the claw-back, in proportion and never below zero
  (`payments.clawback`), under `stripe:dispute:<id>`; the row keeps what it took from the
  wallet and what it recorded as unrecovered.
- **reinstated**: exactly what the claw-back took goes back to the wallet (a
  `dispute_reinstatement` from the `refunds` account, under
  `stripe:dispute_reinstated:<id>`), and what it recorded as unrecovered is forgiven
  (that money came back too). A lost dispute changes nothing more. The credits open a
  grant on the terms of the payment's own grant (source, priority, expiry: credits that
  would have expired by now lapse at once), else as a `purchase`, referenced by the
  payment like that grant, so a later refund of the payment takes from it first.
- **won before its withdrawal is known** (events out of order): the win is recorded and
  no credits move, then or when the withdrawal's news follows, which takes nothing: a
  won dispute nets to nothing whatever the order. Waiting instead (failing the event so
  it is retried until the claw-back exists) would tie the outcome to delivery times:
  Stripe retries a delivery for days, the worker an event for about 40 minutes, and a
  reinstatement given up as dead would leave the claw-back that follows never undone.

Claw-backs posted before disputes had rows (every dispute, inquiries included, was
clawed back on `charge.dispute.created`) are taken over by the dispute's row when it is
made, so a win gives them back too; an inquiry closed (`warning_closed`) with such a
claw-back is reinstated, as no money moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.core.times import utcnow
from billing.credits.accounts import DISPUTE_REINSTATEMENT
from billing.credits.models import CreditTransaction
from billing.credits.service import terms_of_reference
from billing.db.statements import insert_or_lock
from billing.payments.clawback import claw_back
from billing.payments.models import Dispute, Payment
from billing.payments.recorded_payments import ACTOR, post_credits

# Statuses only a dispute whose funds were withdrawn has; `won` ones were given back.
WITHDRAWN_STATUSES: Final = frozenset({"needs_response", "under_review", "lost"})
WON: Final = "won"
INQUIRY_CLOSED: Final = "warning_closed"


def clawback_key(dispute_id: str) -> str:
    return f"stripe:dispute:{dispute_id}"


def reinstatement_key(dispute_id: str) -> str:
    return f"stripe:dispute_reinstated:{dispute_id}"


@dataclass(frozen=True, slots=True)
class DisputeNews:
    """What one event says of a dispute: its state then, and whether its funds went or
    came back."""

    dispute_id: str
    charge_id: str | None
    amount: int
    currency: str | None
    status: str
    at: datetime  # when Stripe produced this state (the event's `created`)
    withdrawn: bool
    reinstated: bool

    @property
    def moves_money(self) -> bool:
        return self.withdrawn or self.reinstated


async def legacy_clawback(session: AsyncSession, dispute_id: str) -> CreditTransaction | None:
    """The claw-back posted for the dispute, if any: one posted before disputes had rows
    when the dispute has none."""
    found: CreditTransaction | None = await session.scalar(
        select(CreditTransaction).where(
            CreditTransaction.idempotency_key == clawback_key(dispute_id)
        )
    )
    return found


async def settle(session: AsyncSession, payment: Payment, news: DisputeNews) -> None:
    """Apply `news` of a dispute of `payment` (a succeeded payment, its row locked), in
    the caller's transaction: the claw-back on the first news that the funds went, the
    reinstatement on the first that they came back, nothing twice."""
    row = await _locked_row(session, payment, news)
    if news.reinstated:
        if row.reinstated_at is None:
            await _reinstate(session, payment, row)
    elif news.withdrawn and row.withdrawn_at is None and row.reinstated_at is None:
        await _withdraw(session, payment, row)
    row.updated_at = utcnow()


async def _locked_row(session: AsyncSession, payment: Payment, news: DisputeNews) -> Dispute:
    """The dispute's row, locked: made (taking over a claw-back posted before rows
    existed) on its first news, its status the newest known."""
    now = utcnow()
    values = {
        "stripe_dispute_id": news.dispute_id,
        "payment_id": payment.id,
        "charge_id": news.charge_id,
        "amount": news.amount,
        "currency": news.currency,
        "status": news.status,
        "state_at": news.at,
        "credits_clawed_back": 0,
        "credits_unrecovered": 0,
        "credits_reinstated": 0,
        "created_at": now,
        "updated_at": now,
    }
    row, made = await insert_or_lock(session, Dispute, "stripe_dispute_id", values)
    if made:
        earlier = await legacy_clawback(session, news.dispute_id)
        if earlier is not None:
            row.withdrawn_at, row.credits_clawed_back = earlier.created_at, earlier.amount
    elif news.at >= row.state_at:
        row.status, row.state_at = news.status, news.at
    return row


async def _audit_payment(session: AsyncSession, payment: Payment) -> None:
    """What the dispute changed on the payment; call it before the next query flushes.
    The credits moved are audited as the ledger posts them."""
    await audit.record_changes(
        session, payment, "payment", actor=ACTOR, target=payment.stripe_id, user_id=payment.user_id
    )


async def _withdraw(session: AsyncSession, payment: Payment, row: Dispute) -> None:
    payment.charge_id = payment.charge_id or row.charge_id
    # A charge has one chargeback at most: the largest disputed amount is what went.
    payment.amount_disputed = max(payment.amount_disputed, row.amount)
    await _audit_payment(session, payment)
    key, reference = clawback_key(row.stripe_dispute_id), row.stripe_dispute_id
    settled = await claw_back(session, payment, key=key, reference=reference)
    row.withdrawn_at = utcnow()
    row.credits_clawed_back, row.credits_unrecovered = settled.take, settled.unrecovered


async def _reinstate(session: AsyncSession, payment: Payment, row: Dispute) -> None:
    row.reinstated_at = utcnow()
    if row.withdrawn_at is None:  # won before its withdrawal was known: nothing to undo
        return
    payment.amount_disputed = max(payment.amount_disputed - row.amount, 0)
    payment.credits_clawed_back -= row.credits_clawed_back
    payment.credits_unrecovered -= row.credits_unrecovered
    await _audit_payment(session, payment)
    if payment.user_id is not None:
        await post_credits(
            session,
            DISPUTE_REINSTATEMENT,
            user_id=payment.user_id,
            credits=row.credits_clawed_back,
            key=reinstatement_key(row.stripe_dispute_id),
            reference=payment.stripe_id,
            grant=await terms_of_reference(session, payment.user_id, payment.stripe_id),
        )
    row.credits_reinstated = row.credits_clawed_back
