"""Times: now, always in UTC; and times in requests as ISO 8601 text, never a number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BeforeValidator


def refuse_numbers(value: object) -> object:
    """Pydantic reads a number, or a string of one, as a Unix time (`?to=0.5` was
    1970-01-01T00:00:00.5Z), which no client documented to send ISO 8601 means."""
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        raise ValueError("a time is ISO 8601 text, such as 2030-01-01T00:00:00Z")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


ISO_8601_ONLY = BeforeValidator(refuse_numbers)


@dataclass
class Clock:
    """This process's clock: the system's, shifted by `offset`. Tests move it forward to
    see grants expire and holds lapse without sleeping; nothing else sets it."""

    offset: timedelta = timedelta(0)


CLOCK = Clock()


def utcnow() -> datetime:
    return datetime.now(UTC) + CLOCK.offset
