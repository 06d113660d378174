"""`billing webhooks verify`: an operator checks a saved message by hand."""

from __future__ import annotations

import time

from typer.testing import CliRunner

from billing.outbound.signatures import new_secret, sign
from billing.runtime.cli import app

BODY = b'{"type":"credits.depleted","timestamp":"2026-12-05T00:00:00Z","data":{"user_id":7}}'


def _message(secret: str, timestamp: int, newline: bytes = b"\r\n") -> bytes:
    head = [
        b"POST /hooks/billing HTTP/1.1",
        b"Host: platform.example",
        b"Content-Type: application/json",
        b"Webhook-Id: msg_2a",
        f"Webhook-Timestamp: {timestamp}".encode(),
        f"Webhook-Signature: {sign([secret], 'msg_2a', timestamp, BODY)}".encode(),
    ]
    return newline.join(head) + newline + newline + BODY


def test_a_message_as_received_verifies_and_a_changed_one_fails() -> None:
    secret, now, runner = new_secret(), int(time.time()), CliRunner()
    for newline in (b"\r\n", b"\n"):
        ok = runner.invoke(
            app, ["webhooks", "verify", "--secret", secret], input=_message(secret, now, newline)
        )
        assert ok.exit_code == 0, ok.output
        assert "signature OK: msg_2a" in ok.output
    cases = {
        "another secret": (new_secret(), _message(secret, now)),
        "a changed body": (secret, _message(secret, now).replace(b"depleted", b"low")),
        "an old message": (secret, _message(secret, now - 301)),
        "no headers": (secret, BODY),
    }
    for what, (key, message) in cases.items():
        failed = runner.invoke(app, ["webhooks", "verify", "--secret", key], input=message)
        assert failed.exit_code == 1, what
        assert "FAILED" in failed.output, what
