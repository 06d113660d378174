"""A storm of spends and signed top-up deliveries against a live service, recording what
each caller learned (acknowledged, refused, or unknown), then retrying every request not
acknowledged the way its caller would: the same Idempotency-Key, the same event."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.support.stripe_events import sign
from tests.support.worker import topup_event

ACKNOWLEDGED = "acknowledged"
# Every few calls the caller gives up almost at once, as an impatient client does: the
# service may or may not have applied it, which only a retry with its key can settle.
IMPATIENT_EVERY = 7
IMPATIENT_TIMEOUT = 0.02
TIMEOUT = 5.0


@dataclass
class Call:
    """One request of the storm and what its caller learned of it, first try first."""

    kind: str  # "spend" or "webhook"
    user_id: int
    amount: int
    key: str  # the Idempotency-Key of a spend, the event id of a delivery
    body: bytes
    started: float
    impatient: bool
    outcomes: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return ACKNOWLEDGED in self.outcomes


@dataclass
class Storm:
    """Sends calls on `lanes` concurrent lanes until stopped."""

    http: httpx.AsyncClient
    headers: Callable[[int], dict[str, str]]  # a user's credentials
    webhook_secret: str
    users: list[int]
    calls: list[Call] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    _numbers: itertools.count[int] = field(default_factory=itertools.count)

    def _next_call(self) -> Call:
        number = next(self._numbers)
        user_id = self.users[number % len(self.users)]
        amount = 1 + number % 5
        impatient = number % IMPATIENT_EVERY == IMPATIENT_EVERY - 1
        if number % 2:
            body = topup_event(user_id, 100 + amount)
            key = json.loads(body)["id"]
            call = Call("webhook", user_id, 100 + amount, key, body, time.monotonic(), impatient)
        else:
            key = f"storm-{uuid.uuid4().hex}"
            body = json.dumps({"amount": amount}).encode()
            call = Call("spend", user_id, amount, key, body, time.monotonic(), impatient)
        self.calls.append(call)
        return call

    def _request(self, call: Call) -> httpx.Request:
        if call.kind == "spend":
            headers = {**self.headers(call.user_id), "Idempotency-Key": call.key}
            url = f"/api/financial/credits/{call.user_id}/spend"
        else:  # signed at each delivery, as Stripe signs each attempt
            headers = {"Stripe-Signature": sign(call.body, self.webhook_secret)}
            url = "/api/stripe/webhook"
        headers["Content-Type"] = "application/json"
        return self.http.build_request("POST", url, content=call.body, headers=headers)

    async def send(self, call: Call, patience: float = TIMEOUT) -> httpx.Response | None:
        """Send once and record the outcome; the response, or None if it is unknown."""
        request = self._request(call)
        request.extensions["timeout"] = httpx.Timeout(patience).as_dict()
        try:
            response = await self.http.send(request)
        except httpx.TransportError as exc:
            call.outcomes.append(f"unknown {type(exc).__name__}")
            return None
        if response.is_success:
            call.outcomes.append(ACKNOWLEDGED)
        else:
            code = response.json().get("code")
            call.outcomes.append(f"refused {response.status_code} {code}")
        return response

    async def _lane(self) -> None:
        while not self.stop.is_set():
            call = self._next_call()
            await self.send(call, IMPATIENT_TIMEOUT if call.impatient else TIMEOUT)

    async def run(self, lanes: int) -> None:
        await asyncio.gather(*(self._lane() for _ in range(lanes)))

    async def settle(self, seconds: float, lanes: int) -> None:
        """Retry every call not acknowledged until it is, as its caller would: honouring
        Retry-After, with the same key or event. Fails after `seconds`."""
        deadline = time.monotonic() + seconds
        pending = [call for call in self.calls if not call.acknowledged]
        lane = asyncio.Semaphore(lanes)

        async def retry(call: Call) -> None:
            while not call.acknowledged:
                assert time.monotonic() < deadline, f"not acknowledged in {seconds}s: {call}"
                async with lane:
                    response = await self.send(call)
                if response is not None and not response.is_success:
                    await asyncio.sleep(float(response.headers.get("Retry-After", "0.2")))

        await asyncio.gather(*(retry(call) for call in pending))

    def first_outcomes(self) -> Counter[str]:
        """How the storm's own tries ended, by outcome."""
        return Counter(call.outcomes[0] for call in self.calls)

    def expected_balances(self, funding: int) -> dict[int, int]:
        """Each user's balance once every call is applied exactly once."""
        balances = dict.fromkeys(self.users, funding)
        for call in self.calls:
            balances[call.user_id] += call.amount if call.kind == "webhook" else -call.amount
        return balances


@dataclass
class Readiness:
    """What `/readyz` answered, polled on its own connections so the storm cannot delay it."""

    http: httpx.AsyncClient
    answers: list[int | None] = field(default_factory=list)

    async def probe(self) -> int | None:
        """The status, or None when /readyz did not answer within a second (it hangs)."""
        try:
            status = (await self.http.get("/readyz", timeout=1)).status_code
        except httpx.TransportError:
            status = None
        self.answers.append(status)
        return status

    async def wait_for(self, status: int, seconds: float) -> float:
        """Poll until /readyz answers `status`; how many seconds that took."""
        start = time.monotonic()
        while await self.probe() != status:
            elapsed = time.monotonic() - start
            assert elapsed < seconds, f"/readyz not {status} in {seconds}s: {self.answers[-5:]}"
            await asyncio.sleep(0.05)
        return time.monotonic() - start
