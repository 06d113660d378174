"""Logging: secrets and card numbers redacted from every line; JSON in production,
text in development; `STRIPE_DEBUG` turns on the SDK's and the service's debug logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.obs.redaction import REDACTED, redact, redact_secrets

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsInJvbGUiOiJ1c2VyIn0"
    ".Zm9vYmFyYmF6cXV4cXV1eF9zaWduYXR1cmU"
)
API_KEY = "bk_" + "Q" * 20 + "-_" + "z" * 21
SECRETS_IN_TEXT = [
    ("Stripe said: Invalid API Key provided: {}", "sk_test_51HxYzAbCdEf0123456789"),
    ("live key {} here", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("restricted={}", "rk_test_abc123DEF456"),
    ("secret {} rotated", "whsec_aB3-dE_fG7hI9jK0lM1nO2pQ3rS4"),
    ('{{"client_secret": "{}"}}', "pi_3NAbCdEf12345678_secret_XyZ0123456789"),
    ("setup intent {} made", "seti_1Abc_secret_Def456"),
    ("checkout {}", "cs_test_a1B2c3_secret_d4E5f6"),
    ("token {} sent", JWT),
    ("api key {} sent", API_KEY),
    ("card {} charged", "4242424242424242"),
    ("card {} charged", "4242 4242 4242 4242"),
    ("card {} charged", "5555-5555-5555-4444"),
    ("amex {}", "378282246310005"),
    ("post_data=amount=100&description={}&currency=usd", "4000002760003184"),
    ("Authorization: Bearer {}", "opaque-bearer-value"),
    ("{{'x-api-key': '{}', 'host': 'billing'}}", "opaque-api-key"),
    ("stripe-signature: {}", "t=1700000000,v1=5257a869e7ec,v0=6ffbb59b2300"),
    ("GET /api/stripe/products?access_token={} HTTP/1.1", "opaque-query-token"),
    ("connect to postgresql+asyncpg://billing:{}@db:5432/billing failed", "hunter2"),
]


@pytest.mark.parametrize(("template", "secret"), SECRETS_IN_TEXT)
def test_redact_removes_the_secret_and_keeps_the_context(template: str, secret: str) -> None:
    text = template.format(secret)
    redacted = redact(text)
    assert secret not in redacted
    assert REDACTED in redacted
    assert redacted.split(REDACTED)[0] == text.split(secret)[0]  # what came before stays


@pytest.mark.parametrize(
    "text",
    [
        "customer cus_NffrFeUfNV2Hib paid pi_3NAbCdEf12345678 via ch_3MmlLr, evt_1NG8Du2eZvKYlo2C",
        "amount=1500 currency=usd credits=6000 user_id=42 balance=9007199254740991",
        "order 4242424242424241 is no card (Luhn)",
        "at 2026-11-26T10:57:57.937211Z, 2026-11-26 10:57:57, unix 1764154677",
        "seconds=0.05935875199975271 ratio=0.4242424242424242",
        "uuid 123e4567-e89b-12d3-a456-426614174000 and +1 415-555-0100",
        "publishable key pk_test_TYooMQauvdEDq54NiTphI7jx is public",
        "unauthenticated: the token has expired; authorization failed",
    ],
)
def test_redact_keeps_ordinary_values(text: str) -> None:
    assert redact(text) == text


def luhn_complete(body: str) -> str:
    """`body` with the check digit that makes it Luhn-valid."""
    total = 0
    for position, digit in enumerate(reversed(body)):
        value = int(digit) * (1 if position % 2 else 2)
        total += value - 9 if value > 9 else value
    return body + str(-total % 10)


def grouped(number: str, separator: str) -> str:
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


surroundings = st.text(alphabet=st.characters(exclude_categories=["Nd"]), max_size=30)
card_bodies = st.integers(12, 18).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n))


@given(body=card_bodies, separator=st.sampled_from(["", " ", "-"]), before=surroundings,
       after=surroundings)  # fmt: skip
def test_every_luhn_valid_card_number_is_redacted(
    body: str, separator: str, before: str, after: str
) -> None:
    number = luhn_complete(body)
    text = before + grouped(number, separator) + after
    redacted = redact(text)
    assert number not in redacted.replace(" ", "").replace("-", "")


@given(body=card_bodies, before=surroundings, after=surroundings)
def test_digit_runs_that_fail_the_luhn_check_are_kept(body: str, before: str, after: str) -> None:
    valid = luhn_complete(body)
    invalid = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    text = f"{before} {invalid} {after}"
    assert invalid in redact(text)


def test_the_processor_scrubs_nested_values_and_credential_keys() -> None:
    event: dict[str, Any] = {
        "event": f"request with {JWT}",
        "headers": {
            "Authorization": "Bearer opaque",
            "X-API-Key": "opaque",
            "Stripe-Signature": "t=1,v1=abc",
            "Content-Type": "application/json",
        },
        "client_secret": "anything at all",
        "cards": ["4242424242424242", 4242424242424242, b"4000056655665556"],
        "details": {"note": "key sk_test_abc123", "amount": 1500, "paid": True, "fee": None},
        "user_id": 42,
    }
    scrubbed = redact_secrets(None, "info", event)
    assert scrubbed == {
        "event": f"request with {REDACTED}",
        "headers": {
            "Authorization": REDACTED,
            "X-API-Key": REDACTED,
            "Stripe-Signature": REDACTED,
            "Content-Type": "application/json",
        },
        "client_secret": REDACTED,
        "cards": [REDACTED, REDACTED, REDACTED],
        "details": {"note": f"key {REDACTED}", "amount": 1500, "paid": True, "fee": None},
        "user_id": 42,
    }


# A process that configures logging from its environment, then logs the way the
# service, the Stripe SDK (its `stripe` logger), uvicorn and libraries do.
LOGGING_PROCESS = """
import logging, warnings
import structlog
from billing.core.config import load_settings
from billing.obs.logs import configure_logging

configure_logging(load_settings())
log = structlog.get_logger("billing.test")
log.debug("service_debug", card="4242 4242 4242 4242")
log.info("service_info", headers={"Authorization": "Bearer opaque"}, note="key sk_test_abc1")
sdk = logging.getLogger("stripe")
sdk.info("message='Request to Stripe api' method=post url=http://stripe/v1/payment_intents")
sdk.debug("message='Post details' post_data=amount=100&description=4242424242424242")
sdk.debug("message='API response body' body='{\\\\n \\"client_secret\\": \\"pi_1_secret_2\\"}'")
logging.getLogger("uvicorn.access").setLevel(logging.INFO)  # as uvicorn sets it
logging.getLogger("uvicorn.access").info('%s - "%s %s"', "1.2.3.4", "GET", "/x?token=opaque")
logging.getLogger("httpx").info("HTTP Request: POST https://hooks.example/T0KEN-IN-URL")
try:
    raise RuntimeError("failed with whsec_abc123")
except RuntimeError:
    log.exception("service_failure")
warnings.warn("deprecated thing", DeprecationWarning, stacklevel=1)
"""
PRODUCTION = {
    "BILLING_ENV": "production",
    "BILLING_JWT_SECRET": "j" * 40,
    "STRIPE_SECRET_KEY": "sk_test_env",
    "STRIPE_WEBHOOK_SECRET": "whsec_env",
    "BILLING_ENCRYPTION_KEYS": "kTsIeRUOIWNM9m-aVWqTB_m6NRdf0jGBmpzXlgQNKHo=",
    "BILLING_ALLOWED_REDIRECT_HOSTS": "app.example.com",
}


def log_lines(tmp_path: Path, **env: str) -> list[str]:
    """What the process wrote, stdout and stderr together, line by line."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "BILLING_"))}
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", textwrap.dedent(LOGGING_PROCESS)],
        env={**base, "BILLING_DATA_DIR": str(tmp_path), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    return done.stdout.splitlines()


# The card as digits and as printed; not "4242" alone, which a port, a pid or a
# timestamp's microseconds can hold by chance (a clean-clone run once failed on one).
SECRETS_LOGGED = (
    *("42424242", "4242 4242", "opaque"),
    *("sk_test_abc1", "pi_1_secret_2", "whsec_abc123", "T0KEN"),
)


def test_production_logs_are_json_lines_with_nothing_secret(tmp_path: Path) -> None:
    lines = log_lines(tmp_path, **PRODUCTION, STRIPE_DEBUG="true")
    records = [json.loads(line) for line in lines]  # every line, not just ours
    assert all({"event", "level", "timestamp", "logger"} <= record.keys() for record in records)
    by_event = {record["event"].split(" ")[0]: record for record in records}
    assert by_event["service_debug"]["card"] == REDACTED
    assert by_event["service_info"]["headers"] == {"Authorization": REDACTED}
    assert by_event["service_failure"]["level"] == "error"
    assert "RuntimeError: failed with [REDACTED]" in by_event["service_failure"]["exception"]
    sdk = [r["event"] for r in records if r["logger"] == "stripe"]
    assert len(sdk) == 3
    assert "description=[REDACTED]" in sdk[1]
    assert f'"client_secret": "{REDACTED}"' in sdk[2]
    assert [r["logger"] for r in records if "token=[REDACTED]" in r["event"]] == ["uvicorn.access"]
    assert [r["level"] for r in records if r["logger"] == "py.warnings"] == ["warning"]
    text = "\n".join(lines)
    assert [secret for secret in SECRETS_LOGGED if secret in text] == []
    assert "hooks.example" not in text  # libraries' info logs stay off


def test_development_logs_are_text_at_info_without_debug(tmp_path: Path) -> None:
    lines = log_lines(tmp_path, BILLING_ENV="development")
    text = "\n".join(lines)
    assert "service_info" in text
    assert "service_debug" not in text
    assert "Post details" not in text
    assert "Request to Stripe api" not in text
    assert not [line for line in lines if line.startswith("{")]
    assert [secret for secret in SECRETS_LOGGED if secret in text] == []


def test_stripe_debug_turns_on_the_sdk_and_service_debug_logs(tmp_path: Path) -> None:
    text = "\n".join(log_lines(tmp_path, BILLING_ENV="development", STRIPE_DEBUG="true"))
    for expected in ("service_debug", "Request to Stripe api", "Post details", "API response body"):
        assert expected in text
    assert [secret for secret in SECRETS_LOGGED if secret in text] == []
