"""Stripe-Signature verification, with several secrets so a secret can be rotated.

Stripe signs `<t>.<body>` with HMAC-SHA256 and sends `t=<unix time>,v1=<hex>`,
with one `v1` per secret it is signing with. This is the check the official
SDK's `WebhookSignature.verify_header` makes (any `v1` matching, compared in
constant time; a timestamp no older than the tolerance), done directly because
it runs on every delivery: the header is parsed once for all secrets and the
raw body is hashed as received, without decoding it first.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from billing.core.errors import BillingError

SCHEME = "v1"


class InvalidSignature(BillingError):
    status, code, title = 400, "invalid_signature", "The webhook signature is not valid"


def verify(payload: bytes, header: str | None, secrets: list[str], tolerance: int) -> None:
    """Return if any secret signed this payload recently; raise InvalidSignature otherwise."""
    if not secrets:
        raise InvalidSignature("No webhook signing secret is configured.")
    if not header:
        raise InvalidSignature("The Stripe-Signature header is missing.")
    timestamp, signatures = _parse(header)
    if timestamp < time.time() - tolerance:
        raise InvalidSignature("The signature is older than the tolerance.")
    signed = b"%d.%b" % (timestamp, payload)
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest().encode()
        if any(hmac.compare_digest(expected, signature) for signature in signatures):
            return
    raise InvalidSignature("No configured secret signed this payload within the tolerance.")


def _parse(header: str) -> tuple[int, list[bytes]]:
    """The first `t` and every `v1`, read exactly as the SDK reads them (other schemes
    are ignored; a `t` or `v1` without a value spoils the header)."""
    items = [item.split("=", 2) for item in header.split(",")]
    try:
        timestamps = [item[1] for item in items if item[0] == "t"]  # every one is read
        signatures = [item[1].encode() for item in items if item[0] == SCHEME]
        timestamp = int(timestamps[0])
    except (IndexError, ValueError):
        raise InvalidSignature("The Stripe-Signature header cannot be read.") from None
    if not signatures:
        raise InvalidSignature(f"The Stripe-Signature header has no {SCHEME} signature.")
    return timestamp, signatures
