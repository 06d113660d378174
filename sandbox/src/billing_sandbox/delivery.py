"""Webhook delivery like Stripe's: signed, in order per endpoint, retried with backoff."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from localstripe.resources import Event, store

from .config import Settings

log = logging.getLogger("billing_sandbox.webhooks")


@dataclass(frozen=True)
class Target:
    """Somewhere events go: a webhook endpoint object or the --webhook flag."""

    id: str
    url: str
    secret: str
    events: tuple[str, ...]

    def wants(self, event_type: str) -> bool:
        return "*" in self.events or event_type in self.events


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

    def targets(self) -> list[Target]:
        """Where an event raised now would go."""
        return _stored_targets() + ([self._flag] if self._flag else [])

    def publish(self, event: Event) -> None:
        """Queue event for every target that wants it."""
        payload = json.dumps(event._export(), indent=2).encode()
        targets = [t for t in self.targets() if t.wants(event.type)]
        event.pending_webhooks = len(targets)
        for target in targets:
            self._queue(target).put_nowait((event.id, payload))

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
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign(payload, target.secret, int(time.time())),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        try:
            async with self._session.post(target.url, data=payload, headers=headers) as reply:
                delivered = 200 <= reply.status < 300
        except (aiohttp.ClientError, TimeoutError) as error:
            log.info("delivery of %s to %s failed: %s", event_id, target.url, error)
            return False
        if delivered:
            self._acknowledge(event_id)
        return delivered

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
