"""Signed Stripe events for the webhook tests, built from Stripe's published fixture."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from functools import cache
from typing import Any

from cryptography.fernet import Fernet
from pydantic import SecretStr

from billing.core.config import Settings
from tests.support.stripe_reference import FIXTURES

# Settings to file events under (`inbox.parse_event`) for tests that have no `settings`
# (the PostgreSQL-only ones) or run handlers of their own: a key of their own, in memory.
FILING = Settings(
    _env_file=None,
    BILLING_ENV="development",
    BILLING_ENCRYPTION_KEYS=SecretStr(Fernet.generate_key().decode()),
)


@cache
def _fixture_event() -> dict[str, Any]:
    resources = json.loads(FIXTURES.read_text())["resources"]
    event: dict[str, Any] = resources["event"]
    return event


def stripe_event(event_type: str = "price.created", **overrides: Any) -> bytes:
    """A Stripe event body with a fresh id, like the ones Stripe delivers."""
    event = {
        **_fixture_event(),
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "type": event_type,
        "created": int(time.time()),
        **overrides,
    }
    return json.dumps(event).encode()


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A Stripe-Signature header: HMAC-SHA256 of `t.payload`, as Stripe computes it."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"
