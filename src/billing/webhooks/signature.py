"""Stripe-Signature verification, with several secrets so a secret can be rotated.

The official SDK does the constant-time HMAC-SHA256 of `t.payload` against every
`v1` in the header and the timestamp check; this module tries each configured
secret in turn.
"""

from __future__ import annotations

import stripe

from billing.errors import BillingError


class InvalidSignature(BillingError):
    status, code, title = 400, "invalid_signature", "The webhook signature is not valid"


def verify(payload: bytes, header: str | None, secrets: list[str], tolerance: int) -> None:
    """Return if any secret signed this payload recently; raise InvalidSignature otherwise."""
    if not secrets:
        raise InvalidSignature("No webhook signing secret is configured.")
    if not header:
        raise InvalidSignature("The Stripe-Signature header is missing.")
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
        except stripe.SignatureVerificationError:
            continue
        return
    raise InvalidSignature("No configured secret signed this payload within the tolerance.")
