"""Finding a user (by id, email or Stripe customer) and their credits per day.

Emails are encrypted, so an email is found through its keyed hash
(`core.encryption.email_lookups`), under every configured key; an erased customer has
none left to match.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.config import Settings
from billing.core.encryption import decrypt_optional, email_lookups
from billing.core.errors import NotFound, ValidationProblem
from billing.core.ids import MAX_USER_ID
from billing.credits import balances
from billing.credits.schemas import ExpiringCredits
from billing.db.statements import read_without_transaction
from billing.payments.models import StripeCustomer
from billing.reporting.dashboard.schemas import DateRange
from billing.reporting.dashboard.service import window
from billing.users import repository
from billing.users.schemas import CreditUsage, UsageDay, UserProfile, UserSummary


async def search(session: AsyncSession, settings: Settings, query: str) -> list[UserSummary]:
    """The users a query names: a user id, an email, or a Stripe customer id."""
    query = query.strip()
    await read_without_transaction(session)
    if query.isdigit():
        user_id = int(query)
        found = (
            [user_id] if user_id <= MAX_USER_ID and await repository.known(session, user_id) else []
        )
    elif "@" in query:
        hashes = email_lookups(settings, query)
        found = await repository.users_with_customer(
            session, StripeCustomer.email_lookup.in_(hashes)
        )
    elif query.startswith("cus_"):
        found = await repository.users_with_customer(
            session, StripeCustomer.stripe_customer_id == query
        )
    else:
        raise ValidationProblem("Search by user id, email or Stripe customer id (cus_...).")
    return await _summaries(session, settings, found)


async def _summaries(
    session: AsyncSession, settings: Settings, user_ids: list[int]
) -> list[UserSummary]:
    current = {row.user_id: row for row in await repository.customers_of(session, user_ids)}
    wallets = await repository.wallets_of(session, user_ids)
    summaries = []
    for user_id in user_ids:
        customer = current.get(user_id)
        wallet = wallets.get(user_id)
        summaries.append(
            UserSummary(
                user_id=user_id,
                email=decrypt_optional(settings, customer.email_encrypted) if customer else None,
                name=decrypt_optional(settings, customer.name_encrypted) if customer else None,
                stripe_customer_id=_current_id(customer),
                balance=wallet.balance if wallet is not None else 0,
            )
        )
    return summaries


def _current_id(customer: StripeCustomer | None) -> str | None:
    return customer.stripe_customer_id if customer and customer.erased_at is None else None


async def profile(session: AsyncSession, settings: Settings, user_id: int) -> UserProfile:
    """Who the user is and what their wallet holds; 404 for a user never seen."""
    now = await balances.balance(session, user_id)  # first: it reads outside a transaction
    if not await repository.known(session, user_id):
        raise NotFound(f"No user {user_id} has a wallet or a customer here.")
    customers = await repository.customers_of(session, [user_id])
    wallet = (await repository.wallets_of(session, [user_id])).get(user_id)
    current = customers[-1] if customers else None
    return UserProfile(
        user_id=user_id,
        email=decrypt_optional(settings, current.email_encrypted) if current else None,
        name=decrypt_optional(settings, current.name_encrypted) if current else None,
        stripe_customer_id=_current_id(current),
        personal_data_erased=any(c.erased_at is not None for c in customers),
        balance=now.balance,
        held=now.held,
        expiring=[ExpiringCredits(amount=e.amount, expires_at=e.expires_at) for e in now.expiring],
        low_balance_threshold=wallet.low_balance_threshold if wallet is not None else None,
        updated_at=now.updated_at,
    )


async def usage(session: AsyncSession, user_id: int, days: DateRange) -> CreditUsage:
    """Credits spent and granted on each UTC day of the range, zeros included."""
    await read_without_transaction(session)
    found = {
        day: (spent, granted)
        for day, spent, granted in await repository.usage_by_day(session, user_id, window(days))
    }
    every = [days.from_ + timedelta(days=n) for n in range((days.to - days.from_).days + 1)]
    return CreditUsage(
        user_id=user_id,
        range=days,
        days=[_usage_day(day, found.get(day, (0, 0))) for day in every],
    )


def _usage_day(day: date, figures: tuple[int, int]) -> UsageDay:
    return UsageDay(day=day, spent=figures[0], granted=figures[1])
