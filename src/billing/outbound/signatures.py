"""Standard Webhooks signatures: what a receiver checks with the `standardwebhooks` library.

A message is signed as `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` under each
of the endpoint's live secrets (two while a rotation overlaps), space-separated. A secret
is `whsec_` and the base64 of 32 random bytes; the key is those bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix every secret carries, not a secret)
SECRET_BYTES = 32
VERSION = "v1"


class BadSignature(ValueError):
    """A message no given secret signed, or signed too long ago."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a signing secret starts with {SECRET_PREFIX}")
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def _signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode()}"


def sign(secrets_: Iterable[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one signature per secret."""
    return " ".join(_signature(_key(s), message_id, timestamp, body) for s in secrets_)


def headers(
    secrets_: Iterable[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secrets_, message_id, timestamp, body),
    }


def verify(
    secret: str, received: Mapping[str, str], body: bytes, now: int, tolerance: int = 300
) -> None:
    """Raise BadSignature unless one of `received`'s signatures is `secret`'s and its
    timestamp is within `tolerance` seconds of `now` (a replayed message is refused)."""
    try:
        message_id = received["webhook-id"]
        timestamp = int(received["webhook-timestamp"])
        offered = received["webhook-signature"].split()
    except (KeyError, ValueError) as exc:
        raise BadSignature("webhook-id, webhook-timestamp and webhook-signature") from exc
    if abs(now - timestamp) > tolerance:
        raise BadSignature("the timestamp is too far from now")
    expected = _signature(_key(secret), message_id, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise BadSignature("no signature matches this secret")
