"""The soak's steady load: paced request streams over keep-alive connections, with
per-window latencies and errors, and the credits each stream's acknowledged requests
moved (what the final ledger must add up to).

Open loop, like common.paced_posts: each request is due at a fixed time and its latency
counts from then, so a service that slows down shows it instead of slowing the load.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from common import exchange, percentile, request

from tests.support.stripe_events import sign
from tests.support.worker import topup_event

REQUEST_TIMEOUT = 30.0
KEPT_ERRORS = 5  # the first few errors of a stream, shown in the verdict


@dataclass
class Window:
    """What one stream saw between two samples."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0

    def p99(self) -> float | None:
        return percentile(sorted(self.latencies_ms), 0.99) if self.latencies_ms else None


# Request n -> (the raw request, the credits it moves if acknowledged).
Build = Callable[[int], tuple[bytes, int]]
# (status, body) -> whether the service acknowledged the request as asked.
Accept = Callable[[int, bytes], bool]


@dataclass
class Stream:
    name: str
    rate: float
    connections: int
    build: Build
    accept: Accept
    window: Window = field(default_factory=Window)
    acknowledged: int = 0
    credits: int = 0
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)
    backlog: int = 0  # requests due but not yet sent when the run ended: it fell behind

    def take_window(self) -> Window:
        window, self.window = self.window, Window()
        return window

    def failed(self, what: str) -> None:
        self.errors += 1
        self.window.errors += 1
        if len(self.first_errors) < KEPT_ERRORS:
            self.first_errors.append(what[:300])


async def drive(stream: Stream, base_url: str, seconds: float) -> None:
    """Send `stream` at its rate for `seconds`, then wait for every answer."""
    if stream.rate <= 0:
        return
    host, port = base_url.removeprefix("http://").split(":")
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, int] | None] = asyncio.Queue()

    async def connection() -> None:
        streams = await asyncio.open_connection(host, int(port))
        while (item := await queue.get()) is not None:
            due, n = item
            raw, credits = stream.build(n)
            try:
                status, body = await asyncio.wait_for(exchange(*streams, raw), REQUEST_TIMEOUT)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                stream.failed(f"{type(error).__name__}: {error}")
                streams[1].close()
                streams = await asyncio.open_connection(host, int(port))
                continue
            stream.window.latencies_ms.append((loop.time() - due) * 1000)
            if stream.accept(status, body):
                stream.acknowledged += 1
                stream.credits += credits
            else:
                stream.failed(f"{status}: {body.decode(errors='replace')}")
        streams[1].close()

    tasks = [asyncio.create_task(connection()) for _ in range(stream.connections)]
    start, n = loop.time(), 0
    while (due := start + n / stream.rate) < start + seconds:
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        queue.put_nowait((due, n))
        n += 1
    await asyncio.sleep(0)  # the connections take what is due now
    stream.backlog = queue.qsize()
    for _ in tasks:
        queue.put_nowait(None)
    await asyncio.gather(*tasks)


def spends(rate: float, tokens: list[str], seed: int = 1) -> Stream:
    """Each user spends 1-9 of its own credits with its own JWT, a new Idempotency-Key each."""
    rng = random.Random(seed)

    def build(n: int) -> tuple[bytes, int]:
        user, amount = rng.randint(1, len(tokens)), rng.randint(1, 9)
        headers = {
            "Authorization": f"Bearer {tokens[user - 1]}",
            "Idempotency-Key": f"soak-spend-{n}",
            "Content-Type": "application/json",
        }
        body = json.dumps({"amount": amount}).encode()
        return request("POST", f"/api/financial/credits/{user}/spend", headers, body), amount

    return Stream("spends", rate, 32, build, lambda status, _: status in (200, 201))


def top_ups(rate: float, users: int, secret: str, seed: int = 2) -> Stream:
    """Signed `payment_intent.succeeded` top-ups (each its own event), signed when sent."""
    rng = random.Random(seed)

    def build(_: int) -> tuple[bytes, int]:
        credits = rng.randint(100, 5000)
        body = topup_event(rng.randint(1, users), credits)
        headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body, secret)}
        return request("POST", "/api/stripe/webhook", headers, body), credits

    def accept(status: int, body: bytes) -> bool:
        return status == 200 and b'"duplicate":false' in body.replace(b" ", b"")

    return Stream("webhooks", rate, 4, build, accept)


def dashboard_reads(rate: float, admin_token: str) -> Stream:
    """The admin dashboard for the last 30 and the last 365 days, in turn."""
    headers = {"Authorization": f"Bearer {admin_token}"}

    def build(n: int) -> tuple[bytes, int]:
        today = datetime.now(UTC).date()
        first = today - timedelta(days=(30, 365)[n % 2] - 1)
        path = f"/api/financial/admin/dashboard?from={first.isoformat()}&to={today.isoformat()}"
        return request("GET", path, headers), 0

    return Stream("dashboard", rate, 2, build, lambda status, _: status == 200)
