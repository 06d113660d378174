"""Mixed load as a platform sends it while servers die under it: spends, holds captured,
usage batches and signed Stripe top-ups, each retried the way its caller would (the same
Idempotency-Key, the same event) until the service gives a definite answer.

It records what each operation moved once acknowledged, so the final balances can be
foretold exactly, and every 5xx a client saw."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import httpx

from tests.support.stripe_events import sign
from tests.support.worker import topup_event

CREDITS = "/api/financial/credits"
USAGE_EVENTS = 20  # per batch
RETRY_PAUSE = 0.05
RETRYABLE = {502, 503, 504}  # a server that went away, or one at capacity: ask again
TIMEOUT = 30.0
# Longer than any claim a killed server leaves (the idempotency store's STALE_CLAIM, 60 s):
# an operation still without a definite answer after this is a hang.
GIVE_UP_SECONDS = 180.0
# The only definite answers the load expects (funded users, valid requests).
EXPECTED = frozenset({"spend 200", "hold 201", "hold 200", "usage 200", "webhook 200"})
KINDS = ("spend", "hold", "usage", "webhook")


@dataclass
class Tally:
    """What the load saw, by kind of operation."""

    done: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)  # "kind status": definite answers
    retries: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)  # any 5xx a client saw
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    moved: Counter[int] = field(default_factory=Counter)  # user -> credits in minus out
    events: list[str] = field(default_factory=list)  # acknowledged Stripe event ids


@dataclass
class MixedLoad:
    http: httpx.AsyncClient
    service_key: str
    webhook_secret: str
    users: list[int]
    rng: random.Random
    tally: Tally = field(default_factory=Tally)
    _numbers: itertools.count[int] = field(default_factory=itertools.count)

    async def run(self, lanes: int, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self._lane(stop) for _ in range(lanes)))

    async def _lane(self, stop: asyncio.Event) -> None:
        operations = (self.spend, self.hold, self.usage, self.webhook)
        while not stop.is_set():
            number = next(self._numbers)
            kind, operation = KINDS[number % 4], operations[number % 4]
            user = self.rng.choice(self.users)
            started = time.monotonic()
            await operation(user)
            self.tally.latencies[kind].append(time.monotonic() - started)
            self.tally.done[kind] += 1

    async def spend(self, user: int) -> None:
        amount = self.rng.randint(1, 5)
        path, headers = f"{CREDITS}/{user}/spend", {"Idempotency-Key": _key("spend")}
        answer = await self._until_definite("spend", path, {"amount": amount}, headers)
        if answer.status_code == 200:
            self.tally.moved[user] -= amount

    async def hold(self, user: int) -> None:
        amount = self.rng.randint(2, 10)
        body = {"amount": amount, "idempotency_key": _key("hold")}
        placed = await self._until_definite("hold", f"{CREDITS}/{user}/holds", body)
        if placed.status_code != 201:
            return
        hold_id, captured = placed.json()["id"], self.rng.randint(1, amount)
        body = {"amount": captured, "idempotency_key": _key("capture")}
        path = f"{CREDITS}/{user}/holds/{hold_id}/capture"
        if (await self._until_definite("hold", path, body)).status_code == 200:
            self.tally.moved[user] -= captured

    async def usage(self, user: int) -> None:
        events = [
            {"user_id": user, "amount": self.rng.randint(1, 3), "idempotency_key": _key("use")}
            for _ in range(USAGE_EVENTS)
        ]
        answer = await self._until_definite("usage", "/api/financial/usage", {"events": events})
        if answer.status_code != 200:
            return
        results = answer.json()["results"]
        for amount, result in zip((e["amount"] for e in events), results, strict=True):
            if result["status"] in ("posted", "replayed"):
                self.tally.moved[user] -= int(amount)

    async def webhook(self, user: int) -> None:
        credits = self.rng.randint(50, 150)
        body = topup_event(user, credits)
        answer = await self._until_definite("webhook", "/api/stripe/webhook", body)
        if answer.status_code == 200:
            self.tally.moved[user] += credits
            self.tally.events.append(json.loads(body)["id"])

    async def _until_definite(
        self,
        kind: str,
        path: str,
        body: object,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send until an answer other than a lost connection or one that says to retry: a
        server gone or at capacity, or the key still claimed by a request that was running
        (on a server since killed, it is taken over after the idempotency store's
        STALE_CLAIM)."""
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{kind} {path}: no definite answer in {GIVE_UP_SECONDS:.0f} s")
            try:
                answer = await self._send(path, body, headers or {})
            except httpx.TransportError:
                answer = None
            if answer is not None and not _says_retry(answer):
                self.tally.answers[_named(kind, answer)] += 1
                if answer.status_code >= 500:
                    self.tally.server_errors.append(f"{kind} {answer.status_code} {answer.text}")
                return answer
            self.tally.retries[kind] += 1
            pause = answer.headers.get("Retry-After") if answer is not None else None
            await asyncio.sleep(float(pause) if pause else RETRY_PAUSE)

    async def _send(self, path: str, body: object, headers: dict[str, str]) -> httpx.Response:
        if isinstance(body, bytes):  # a Stripe event: signed at each delivery, as Stripe does
            signed = {"Stripe-Signature": sign(body, self.webhook_secret)}
            signed["Content-Type"] = "application/json"
            return await self.http.post(path, content=body, headers=signed, timeout=TIMEOUT)
        return await self.http.post(
            path, json=body, headers={**headers, "X-API-Key": self.service_key}, timeout=TIMEOUT
        )


def _says_retry(answer: httpx.Response) -> bool:
    if answer.status_code in RETRYABLE:
        return True
    return answer.status_code == 409 and answer.json().get("code") == "idempotency_in_progress"


def _named(kind: str, answer: httpx.Response) -> str:
    """`kind status`, and the problem's code for a refusal: "spend 402 insufficient_credits"."""
    code = answer.json().get("code", "") if answer.status_code >= 400 else ""
    return f"{kind} {answer.status_code} {code}".strip()


def _key(kind: str) -> str:
    return f"scale-{kind}-{uuid.uuid4().hex}"
