"""Opaque cursors for newest-first lists keyed by a growing integer id."""

from __future__ import annotations

import base64
import binascii

from billing.core.errors import ValidationProblem


def encode_cursor(row_id: int) -> str:
    """A cursor that resumes after this row; clients treat it as opaque."""
    return base64.urlsafe_b64encode(f"t{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The row id a cursor resumes after; 422 for anything this API did not issue."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
        if raw.startswith("t") and raw[1:].isdigit():
            return int(raw[1:])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ValidationProblem("The cursor is not one this API returned.")
