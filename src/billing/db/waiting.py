"""Waiting for a turn, with a bound: past it the caller answers 503 and may retry."""

from __future__ import annotations

import asyncio

from billing.core.errors import ServiceUnavailable


async def take_turn(turn: asyncio.Lock | asyncio.Semaphore, seconds: float, busy: str) -> None:
    """Acquire `turn` in arrival order within `seconds`, else `ServiceUnavailable(busy)`.
    A free turn is taken without setting a timer (this is on every hot path)."""
    try:
        async with asyncio.timeout(seconds if turn.locked() else None):
            await turn.acquire()
    except TimeoutError as exc:
        raise ServiceUnavailable(busy) from exc
