"""Personal data encrypted at rest: Fernet tokens under `BILLING_ENCRYPTION_KEYS`.

The first key encrypts, every listed key decrypts (MultiFernet), so a new key can be
put first while older tokens still read; `billing rotate-keys` then re-encrypts them
and the old key can go. The primitive sits in `core`, below every domain, because two
domains encrypt with it: the customer mirror (`compliance.personal_data`) and the
webhook inbox's payloads (`webhooks.personal_fields`), and compliance imports webhooks,
never the other way round. The platform's webhook signing secrets (`outbound`) use it
too: the service must read them back to sign.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from billing.core.config import Settings
from billing.core.errors import BillingError


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


def rotated(newest: Fernet, every_key: MultiFernet, token: str) -> str | None:
    """`token` encrypted anew under the newest key; None when that key already reads it.
    InvalidToken when no configured key does."""
    try:
        newest.decrypt(token.encode())
    except InvalidToken:
        return every_key.rotate(token.encode()).decode()
    return None


def encrypt(settings: Settings, value: str) -> str:
    return cipher(settings).encrypt(value.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    try:
        return cipher(settings).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise PersonalDataUnreadable(
            "Personal data was encrypted under a key missing from BILLING_ENCRYPTION_KEYS."
        ) from exc


def email_lookups(settings: Settings, email: str) -> list[str]:
    """Keyed hashes of the normalised email, one per configured key, newest first: what
    is stored is the first, and a search tries them all, so rows written before a key
    rotation are still found until `billing rotate-keys` rewrites them. A hash keyed by
    the secret keys cannot be reversed by guessing emails without them."""
    normalised = email.strip().lower().encode()
    return [
        hmac.new(_lookup_key(key), normalised, hashlib.sha256).hexdigest()
        for key in settings.encryption_keys()
    ]


def email_lookup(settings: Settings, email: str) -> str:
    """The keyed hash stored beside an encrypted email."""
    return email_lookups(settings, email)[0]


def _lookup_key(fernet_key: str) -> bytes:
    """A key for lookups only, derived from a Fernet key (never the Fernet key itself)."""
    return hmac.new(fernet_key.encode(), b"billing email lookup", hashlib.sha256).digest()


def decrypt_optional(settings: Settings, token: str | None) -> str | None:
    return None if token is None else decrypt(settings, token)
