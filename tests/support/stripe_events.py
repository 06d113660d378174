"""Signed Stripe events for the webhook tests, built from Stripe's published fixture."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from functools import cache
from typing import Any

from tests.support.stripe_reference import FIXTURES


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
