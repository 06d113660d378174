"""Our signatures are the Standard Webhooks ones: its reference library checks ours, and
ours checks its."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from billing.outbound.signatures import BadSignature, new_secret, sign, verify

BODY = b'{"type":"credits.low","timestamp":"2026-12-05T00:00:00Z","data":{"user_id":7}}'


def _headers(signature: str, timestamp: int, message_id: str = "msg_1") -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_the_reference_library_verifies_what_we_sign_under_each_live_secret() -> None:
    old, new, now = new_secret(), new_secret(), int(time.time())
    signature = sign([new, old], "msg_1", now, BODY)
    assert len(signature.split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(BODY, _headers(signature, now)) == {
            "type": "credits.low",
            "timestamp": "2026-12-05T00:00:00Z",
            "data": {"user_id": 7},
        }
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, _headers(signature, now))


def test_we_verify_what_the_reference_library_signs() -> None:
    secret, now = new_secret(), int(time.time())
    signature = Webhook(secret).sign("msg_2", datetime.fromtimestamp(now, UTC), BODY.decode())
    verify(secret, _headers(signature, now, "msg_2"), BODY, now)


SECRET, SIGNED_AT = new_secret(), 10_000
SIGNED = _headers(sign([SECRET], "msg_1", SIGNED_AT, BODY), SIGNED_AT)


@pytest.mark.parametrize(
    ("secret", "headers", "body", "now", "why"),
    [
        (SECRET, SIGNED, BODY + b" ", SIGNED_AT, "no signature matches"),
        (SECRET, {**SIGNED, "webhook-id": "msg_2"}, BODY, SIGNED_AT, "no signature matches"),
        (new_secret(), SIGNED, BODY, SIGNED_AT, "no signature matches"),
        (SECRET, SIGNED, BODY, SIGNED_AT + 301, "too far from now"),
        (SECRET, {}, BODY, SIGNED_AT, "webhook-id"),
    ],
    ids=["body changed", "id changed", "another secret", "too late", "no headers"],
)
def test_a_message_changed_or_late_is_refused(
    secret: str, headers: dict[str, str], body: bytes, now: int, why: str
) -> None:
    verify(SECRET, SIGNED, BODY, SIGNED_AT)  # as signed, it passes
    with pytest.raises(BadSignature, match=why):
        verify(secret, headers, body, now)


def test_a_secret_is_whsec_and_32_random_bytes() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(s) == len("whsec_") + 44 for s in secrets)
