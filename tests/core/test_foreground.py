"""`Foreground`: background work waits for a pause in requests, never longer than asked,
on whichever event loop it runs."""

from __future__ import annotations

import asyncio

from billing.core.foreground import Foreground


async def test_a_pause_with_nothing_in_flight_returns_at_once() -> None:
    await asyncio.wait_for(Foreground().pause(60), timeout=1)


async def test_a_pause_ends_when_the_last_request_leaves() -> None:
    foreground = Foreground()
    foreground.enter()
    foreground.enter()
    waiting = asyncio.create_task(foreground.pause(60))
    foreground.leave()
    await asyncio.sleep(0.01)
    assert not waiting.done()  # one still in flight
    foreground.leave()
    await asyncio.wait_for(waiting, timeout=1)


async def test_a_pause_ends_after_its_seconds_whatever_and_leaves_nothing_behind() -> None:
    foreground = Foreground()
    foreground.enter()
    for _ in range(3):
        await asyncio.wait_for(foreground.pause(0.02), timeout=5)
    assert not foreground._waiters  # requests that never end grow no list
    foreground.leave()


def test_it_serves_one_event_loop_after_another() -> None:
    foreground = Foreground()
    for _ in range(2):
        foreground.enter()

        async def wait_then_leave() -> None:
            waiting = asyncio.create_task(foreground.pause(60))
            await asyncio.sleep(0)
            foreground.leave()
            await asyncio.wait_for(waiting, timeout=1)

        asyncio.run(wait_then_leave())
