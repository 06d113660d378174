"""Opaque cursors for newest-first lists keyed by a growing integer id."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Protocol, TypeVar

from billing.core.errors import ValidationProblem


class Row(Protocol):
    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=Row)


def page_of(rows: Sequence[R], limit: int) -> tuple[Sequence[R], str | None]:
    """Of rows fetched as `limit + 1` (one more, to know there are more): the page to show
    and the cursor after it, None when it is the last."""
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor(rows[limit - 1].id)


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
