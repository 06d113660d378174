"""Work a caller is waiting for (requests in flight) and work that can wait (the worker
inside `billing serve`): the second waits for a pause in the first, for a bounded time.

One process on SQLite answers requests and processes events on the same core. Processing
an event costs several times what acknowledging its delivery does, so in a burst the
worker starts its next batch only once no request is in flight, or after `seconds`: the
burst is acknowledged at full speed and processed just after (the lag stays bounded).
A `billing worker` process serves no requests: it never waits.
"""

from __future__ import annotations

import asyncio
import contextlib


class Foreground:
    """Requests in flight in this process. Waiters are futures of the loop they wait on
    (an `asyncio.Event` would bind to the first loop that waits on it)."""

    def __init__(self) -> None:
        self._count = 0
        self._waiters: set[asyncio.Future[None]] = set()

    def enter(self) -> None:
        self._count += 1

    def leave(self) -> None:
        self._count -= 1
        if not self._count:
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def pause(self, seconds: float) -> None:
        """Return once no request is in flight, or after `seconds` whatever."""
        if not self._count:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, seconds)
        finally:
            self._waiters.discard(waiter)


FOREGROUND = Foreground()
