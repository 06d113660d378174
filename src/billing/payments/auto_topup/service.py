"""The rules of an auto top-up's life, each in the caller's transaction.

`start` turns a wallet's request into a top-up to charge, or into none: auto top-up was
turned off or paused meanwhile, or the month's limit would be passed (`limit_reached`).
`succeeded` and `failed` settle the one in flight, once, whoever comes first: the worker
that heard Stripe's answer, or the webhook that brought it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeGuard

from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.audit.service import user_target
from billing.core.config import Settings
from billing.core.errors import ValidationProblem
from billing.credits import watch
from billing.payments.auto_topup import events, repository
from billing.payments.auto_topup.models import (
    CANCELED,
    CHARGING,
    FAILED,
    LIMIT_REACHED,
    PENDING,
    SUCCEEDED,
    AutoTopup,
    AutoTopupSettings,
)
from billing.payments.intents import topup_credits

LEASE = timedelta(minutes=2)  # a charge whose worker stops is charged again after this
# Stripe keeps an idempotency key for 24 hours: a charge still unconfirmed after this is
# never asked for again (it would be a new charge), and fails.
UNCONFIRMED_AFTER = timedelta(hours=23)
ACTOR = "system:auto_topup"


def month_of(now: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar month `now` is in: its start and the next one's."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following


def _armed(terms: AutoTopupSettings | None) -> TypeGuard[AutoTopupSettings]:
    """Auto top-up is on for the user, and no decline has paused it."""
    return terms is not None and terms.enabled and terms.paused_at is None


async def start(
    session: AsyncSession, settings: Settings, user_id: int, now: datetime
) -> AutoTopup | None:
    """The top-up to charge for the user's request, leased to the caller; None if none is."""
    terms = await session.get(AutoTopupSettings, user_id, populate_existing=True)
    if not _armed(terms):
        await watch.topup_ended(session, user_id)
        return None
    row = AutoTopup(
        user_id=user_id,
        status=CHARGING,
        amount=terms.amount,
        currency=terms.currency,
        claimed_until=now + LEASE,
        created_at=now,
        updated_at=now,
    )
    try:  # the operator may have changed the currencies or bounds since they were saved
        row.credits = topup_credits(settings, terms.amount, terms.currency)
    except ValidationProblem as refusal:
        session.add(row)
        await session.flush()
        await _fail(session, row, (refusal.code, None), now)
        return None
    month, next_month = month_of(now)
    charged = await repository.charged_since(session, user_id, terms.currency, month)
    if charged + terms.amount > terms.monthly_limit:
        row.status, row.claimed_until = LIMIT_REACHED, None
    session.add(row)
    await session.flush()
    if row.status == LIMIT_REACHED:
        events.limit_reached(session, row, (terms.monthly_limit, charged), now)
        await watch.topup_ended(session, user_id, resumes_at=next_month)
        await _audit(session, row)
        return None
    await _audit(session, row, "auto_topup.started")
    return row


async def lease(session: AsyncSession, topup_id: int, now: datetime) -> AutoTopup | None:
    """The top-up, leased anew to the caller right before it asks Stripe; None if it is
    not to be charged: settled already, canceled now (auto top-up was turned off or paused
    since it was asked for) or failed now (unconfirmed for too long)."""
    row = await session.get(AutoTopup, topup_id, with_for_update=True, populate_existing=True)
    if row is None or row.status != CHARGING:
        return None
    terms = await session.get(
        AutoTopupSettings, row.user_id, with_for_update=True, populate_existing=True
    )
    if not _armed(terms):
        _settle(row, CANCELED, None, now)
        await watch.topup_ended(session, row.user_id)
        await _audit(session, row)
        return None
    if row.created_at < now - UNCONFIRMED_AFTER:
        await _fail(session, row, ("charge_unconfirmed", None), now)
        return None
    row.claimed_until, row.updated_at = now + LEASE, now
    return row


async def charged(session: AsyncSession, topup_id: int, payment_intent_id: str) -> None:
    """Stripe took the charge: the credits come with `payment_intent.succeeded`."""
    row = await session.get(AutoTopup, topup_id, with_for_update=True, populate_existing=True)
    if row is not None and row.status == CHARGING:
        row.status, row.payment_intent_id, row.claimed_until = PENDING, payment_intent_id, None


async def succeeded(
    session: AsyncSession, topup_id: int, payment_intent_id: str, now: datetime
) -> None:
    """Its credits are in (the webhook handler posted them in this transaction)."""
    row = await _in_flight(session, topup_id)
    if row is None:
        return
    _settle(row, SUCCEEDED, payment_intent_id, now)
    await watch.topup_ended(session, row.user_id)
    events.settled(session, row, now)
    await _audit(session, row)


async def failed(
    session: AsyncSession,
    topup_id: int,
    failure: tuple[str, str | None],
    now: datetime,
) -> None:
    """Declined, or authentication required (`failure`: the code and the intent, if one
    was made): auto top-up pauses until the user saves the settings again."""
    row = await _in_flight(session, topup_id)
    if row is not None:
        await _fail(session, row, failure, now)


async def _fail(
    session: AsyncSession, row: AutoTopup, failure: tuple[str, str | None], now: datetime
) -> None:
    code, payment_intent_id = failure
    _settle(row, FAILED, payment_intent_id, now)
    row.failure_code = code[:64]
    terms = await session.get(AutoTopupSettings, row.user_id, with_for_update=True)
    if terms is not None:
        terms.paused_at, terms.pause_reason, terms.updated_at = now, row.failure_code, now
    await watch.topup_ended(session, row.user_id, disarm=True)
    events.settled(session, row, now)
    await _audit(session, row)


async def _in_flight(session: AsyncSession, topup_id: int) -> AutoTopup | None:
    row = await session.get(AutoTopup, topup_id, with_for_update=True, populate_existing=True)
    return row if row is not None and row.status in (CHARGING, PENDING) else None


def _settle(row: AutoTopup, status: str, payment_intent_id: str | None, now: datetime) -> None:
    row.status, row.claimed_until, row.updated_at = status, None, now
    row.payment_intent_id = row.payment_intent_id or payment_intent_id


async def _audit(session: AsyncSession, row: AutoTopup, action: str | None = None) -> None:
    await audit.record(
        session,
        actor=ACTOR,
        action=action or f"auto_topup.{row.status}",
        target=user_target(row.user_id),
        user_id=row.user_id,
        details={
            "topup_id": row.id,
            "amount": row.amount,
            "currency": row.currency,
            "credits": row.credits,
            "payment_intent_id": row.payment_intent_id,
            "failure_code": row.failure_code,
        },
    )
