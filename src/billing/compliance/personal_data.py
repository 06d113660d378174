"""Personal data (a customer's email and name), encrypted at rest.

Values are Fernet tokens under `BILLING_ENCRYPTION_KEYS`: the first key encrypts,
every listed key decrypts, so a new key can be put first while older tokens still
read; `billing rotate-keys` then re-encrypts them and the old key can go. Only the
customer mirror holds these values, and erasure empties them for good.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.config import Settings
from billing.core.errors import BillingError
from billing.payments.models import StripeCustomer
from billing.stripe.readers import object_id


class PersonalDataUnreadable(BillingError):
    """A value was encrypted under a key that is no longer configured."""

    status, code, title = 500, "encryption_key_missing", "Personal data cannot be decrypted"


@lru_cache(maxsize=8)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def cipher(settings: Settings) -> MultiFernet:
    """The MultiFernet for the configured keys, built once per key list."""
    return _cipher(tuple(settings.encryption_keys()))


def primary(settings: Settings) -> Fernet:
    """The key that encrypts: a token it can read needs no rotation."""
    return Fernet(settings.encryption_keys()[0])


def encrypt(settings: Settings, value: str) -> str:
    return cipher(settings).encrypt(value.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    try:
        return cipher(settings).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise PersonalDataUnreadable(
            "Personal data was encrypted under a key missing from BILLING_ENCRYPTION_KEYS."
        ) from exc


def decrypt_optional(settings: Settings, token: str | None) -> str | None:
    return None if token is None else decrypt(settings, token)


async def remember_contact(
    session: AsyncSession,
    settings: Settings,
    user_id: int,
    email: str | None,
    name: str | None,
    *,
    customer_id: str | None = None,
) -> bool:
    """Store the user's email and name (either may be missing: the stored one stays) on
    its current customer row (only if it is `customer_id`, when given), encrypted; False
    if there is none or its data was erased (a replayed event must not bring erased data
    back, not even onto the customer the user has since paid with). Runs in the caller's
    transaction."""
    values = {
        column: encrypt(settings, value)
        for column, value in (("email_encrypted", email), ("name_encrypted", name))
        if value
    }
    if not values:
        return False
    conditions = [StripeCustomer.user_id == user_id, StripeCustomer.erased_at.is_(None)]
    if customer_id is not None:
        conditions.append(StripeCustomer.stripe_customer_id == customer_id)
    updated = await session.scalar(
        update(StripeCustomer).where(*conditions).values(**values).returning(StripeCustomer.id)
    )
    return updated is not None


async def remember_checkout_contact(
    session: AsyncSession, settings: Settings, user_id: int, checkout: dict[str, Any]
) -> bool:
    """`remember_contact` from a Checkout Session's `customer_details`, onto the
    session's own customer only (a late session of an erased customer stores nothing)."""
    details = checkout.get("customer_details")
    if not isinstance(details, dict):
        return False
    email, name = details.get("email"), details.get("name")
    return await remember_contact(
        session,
        settings,
        user_id,
        email if isinstance(email, str) else None,
        name if isinstance(name, str) else None,
        customer_id=object_id(checkout.get("customer")),
    )
