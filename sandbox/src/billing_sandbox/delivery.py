"""Webhook delivery like Stripe's: signed, in order per endpoint, retried with backoff."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from localstripe.resources import Event, store

from .config import Settings

log = logging.getLogger("billing_sandbox.webhooks")
ATTEMPTS_PER_EVENT = 20
EVENTS_RECORDED = 1000


@dataclass(frozen=True)
class Target:
    """Somewhere events go: a webhook endpoint object or the --webhook flag."""

    id: str
    url: str
    secret: str
    events: tuple[str, ...]

    def wants(self, event_type: str) -> bool:
        return "*" in self.events or event_type in self.events


@dataclass(frozen=True)
class Attempt:
    """One try at delivering an event to a target: its HTTP status, or why there was none."""

    target: str
    url: str
    number: int  # 1 for the first try at this target, counting retries and resends
    at: float
    status: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Attempts:
    """The last attempts of the last events, in memory: bounded per event and overall."""

    def __init__(self, per_event: int = ATTEMPTS_PER_EVENT, events: int = EVENTS_RECORDED) -> None:
        self._per_event = per_event
        self._events = events
        self._log: OrderedDict[str, deque[Attempt]] = OrderedDict()

    def of(self, event_id: str) -> list[Attempt]:
        """An event's recorded attempts, oldest first."""
        return list(self._log.get(event_id, ()))

    def record(self, event_id: str, target: Target, status: int | None, error: str | None) -> None:
        log = self._log.setdefault(event_id, deque(maxlen=self._per_event))
        self._log.move_to_end(event_id)
        number = 1 + max((a.number for a in log if a.target == target.id), default=0)
        log.append(Attempt(target.id, target.url, number, time.time(), status, error))
        while len(self._log) > self._events:
            self._log.popitem(last=False)


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header for payload."""
    mac = hmac.new(secret.encode(), b"%d." % timestamp + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _stored_targets() -> list[Target]:
    return [
        Target(obj.id, obj.url, obj._secret, tuple(obj.enabled_events))
        for key, obj in list(store.items())
        if key.startswith("webhook_endpoint:") and obj.status == "enabled"
    ]


class Deliverer:
    """Queues one worker per target so first attempts keep event order; retries run apart."""

    def __init__(self, settings: Settings) -> None:
        self._delays = settings.retry_delays
        self._timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout)
        self._flag = (
            Target("cli", settings.webhook_url, settings.webhook_secret, ("*",))
            if settings.webhook_url and settings.webhook_secret
            else None
        )
        self._queues: dict[str, asyncio.Queue[tuple[str, bytes]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self.attempts = Attempts()

    def targets(self) -> list[Target]:
        """Where an event raised now would go."""
        return _stored_targets() + ([self._flag] if self._flag else [])

    def publish(self, event: Event) -> None:
        """Queue event for every target that wants it."""
        payload = json.dumps(event._export(), indent=2).encode()
        targets = self._wanting(event.type)
        event.pending_webhooks = len(targets)
        self._enqueue(targets, event.id, payload)

    def resend(self, event: Event) -> list[Target]:
        """Queue event again for every target that wants it now (the dashboard's Resend)."""
        payload = json.dumps(event._export(), indent=2).encode()
        targets = self._wanting(event.type)
        event.pending_webhooks += len(targets)
        self._enqueue(targets, event.id, payload)
        return targets

    def _wanting(self, event_type: str) -> list[Target]:
        return [t for t in self.targets() if t.wants(event_type)]

    def _enqueue(self, targets: list[Target], event_id: str, payload: bytes) -> None:
        for target in targets:
            self._queue(target).put_nowait((event_id, payload))

    def _queue(self, target: Target) -> asyncio.Queue[tuple[str, bytes]]:
        if target.id not in self._queues:
            self._queues[target.id] = asyncio.Queue()
            self._spawn(self._work(target, self._queues[target.id]))
        return self._queues[target.id]

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self, target: Target, queue: asyncio.Queue[tuple[str, bytes]]) -> None:
        while True:
            event_id, payload = await queue.get()
            if await self._send(target, event_id, payload):
                continue
            self._spawn(self._retry(target, event_id, payload))

    async def _retry(self, target: Target, event_id: str, payload: bytes) -> None:
        for delay in self._delays:
            await asyncio.sleep(delay)
            if await self._send(target, event_id, payload):
                return
        log.warning("gave up delivering %s to %s", event_id, target.url)

    async def _send(self, target: Target, event_id: str, payload: bytes) -> bool:
        status, error = await self._post(target, payload)
        self.attempts.record(event_id, target, status, error)
        delivered = status is not None and 200 <= status < 300
        if delivered:
            self._acknowledge(event_id)
        elif error:
            log.info("delivery of %s to %s failed: %s", event_id, target.url, error)
        return delivered

    async def _post(self, target: Target, payload: bytes) -> tuple[int | None, str | None]:
        """The receiver's HTTP status, or (None, why) when it gave none."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign(payload, target.secret, int(time.time())),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        try:
            async with self._session.post(target.url, data=payload, headers=headers) as reply:
                return reply.status, None
        except (aiohttp.ClientError, TimeoutError) as error:
            return None, str(error) or type(error).__name__

    @staticmethod
    def _acknowledge(event_id: str) -> None:
        event = store.get("event:" + event_id)
        if event is not None:
            event.pending_webhooks = max(0, event.pending_webhooks - 1)

    async def close(self, _: Any = None) -> None:
        """Stop workers and retries when the server stops."""
        for task in list(self._tasks):
            task.cancel()
        if self._session is not None:
            await self._session.close()


# Where the app keeps its Deliverer, for pages that show or resend deliveries.
DELIVERER = web.AppKey("deliverer", Deliverer)
