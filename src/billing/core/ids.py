"""Identifiers: the platform's user ids, the service's fresh ids, and how the service's
own secrets start."""

from __future__ import annotations

import itertools
import os
import secrets

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


class FreshIds:
    """Fresh ids: `random_bytes` random bytes in hex per process, then a counter. Unique
    across the service's processes without a random draw (a system call) per id."""

    def __init__(self, random_bytes: int) -> None:
        self._random_bytes = random_bytes
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self._prefix = secrets.token_hex(self._random_bytes)
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"
