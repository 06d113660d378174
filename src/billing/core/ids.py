"""Identifiers: the platform's user ids, and how the service's own secrets start."""

from __future__ import annotations

MAX_USER_ID = 2**63 - 1
MAX_ROW_ID = 2**63 - 1  # the service's own row ids are 64-bit too


def parse_user_id(value: object) -> int:
    """One spelling per user: plain digits, no sign, spaces, underscores or leading zeros."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and value[0] != "0":
        user_id = int(value)
        if user_id <= MAX_USER_ID:
            return user_id
    raise ValueError("a user id is a positive integer written in plain digits")


API_KEY_PREFIX = "bk_"
