"""A user's credit settings: the low-balance threshold its wallet watches for, and its
auto top-up terms (DESIGN, "Thresholds and auto top-up")."""

from __future__ import annotations

import stripe
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.audit.service import user_target
from billing.core.config import Settings
from billing.core.times import utcnow
from billing.credits import watch
from billing.db.statements import read_without_transaction, upsert
from billing.payments.auto_topup.cards import saved_card
from billing.payments.auto_topup.models import AutoTopupSettings
from billing.payments.auto_topup.schemas import (
    AutoTopupState,
    AutoTopupTerms,
    CreditSettings,
    CreditSettingsView,
)
from billing.payments.errors import AmountOutOfRange
from billing.payments.intents import topup_credits
from billing.stripe.client import require_client


async def read(session: AsyncSession, user_id: int) -> CreditSettingsView:
    await read_without_transaction(session)
    terms = await session.get(AutoTopupSettings, user_id, populate_existing=True)
    state = None
    if terms is not None:
        state = AutoTopupState(
            enabled=terms.enabled,
            threshold=terms.threshold,
            amount=terms.amount,
            currency=terms.currency,
            monthly_limit=terms.monthly_limit,
            paused_at=terms.paused_at,
            pause_reason=terms.pause_reason,
        )
    threshold = await watch.own_low_balance_threshold(session, user_id)
    return CreditSettingsView(user_id=user_id, low_balance_threshold=threshold, auto_topup=state)


async def save(
    session: AsyncSession,
    client: stripe.StripeClient | None,
    settings: Settings,
    user_id: int,
    body: CreditSettings,
    actor: str,
) -> CreditSettingsView:
    """Save them whole (a PUT), resuming a paused auto top-up. Enabling one needs a saved
    card (422 `payment_method_required`) and terms a top-up may have (the payment form's
    currencies and bounds, a monthly limit that allows one)."""
    terms = body.auto_topup
    if terms is not None:
        _check(settings, terms)
        if terms.enabled:
            await saved_card(session, require_client(client), user_id)
    now = utcnow()
    armed = terms.threshold if terms is not None and terms.enabled else None
    async with session.begin():
        await watch.watch_for(session, user_id, body.low_balance_threshold, armed, now)
        await _store(session, user_id, terms)
        await audit.record(
            session,
            actor=actor,
            action="credit_settings.saved",
            target=user_target(user_id),
            user_id=user_id,
            details=body.model_dump(),
        )
    return await read(session, user_id)


def _check(settings: Settings, terms: AutoTopupTerms) -> None:
    topup_credits(settings, terms.amount, terms.currency)
    if terms.monthly_limit < terms.amount:
        raise AmountOutOfRange("monthly_limit must allow at least one top-up of amount.")


async def _store(session: AsyncSession, user_id: int, terms: AutoTopupTerms | None) -> None:
    if terms is None:
        await session.execute(delete(AutoTopupSettings).where(AutoTopupSettings.user_id == user_id))
        return
    values = terms.model_dump() | {"paused_at": None, "pause_reason": None, "updated_at": utcnow()}
    statement = upsert(session.get_bind().dialect.name, AutoTopupSettings).values(
        user_id=user_id, **values
    )
    await session.execute(statement.on_conflict_do_update(index_elements=["user_id"], set_=values))
