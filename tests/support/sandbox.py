"""Shared helpers for sandbox tests: polling, a webhook receiver, fixture shapes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from tests.support.stripe_reference import FIXTURES

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    """Poll probe until it returns something truthy, or fail after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout}s")


@dataclass
class Delivery:
    """One request the receiver got."""

    body: bytes
    signature: str

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver on a free port that can be told to fail its first requests."""

    url: str = ""
    failures_left: int = 0
    stalls_left: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of_type(self, event_type: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.event["type"] == event_type]

    def about(self, object_id: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.event["data"]["object"]["id"] == object_id]


@contextmanager
def receiver(failures: int = 0, stalls: int = 0) -> Iterator[Receiver]:
    """Run a Receiver in a thread: it answers 500 `failures` times, or hangs `stalls` times."""
    state = Receiver(failures_left=failures, stalls_left=stalls)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.deliveries.append(Delivery(body, self.headers["Stripe-Signature"]))
                failing = state.failures_left > 0
                state.failures_left -= 1
                stalling = state.stalls_left > 0
                state.stalls_left -= 1
            if stalling:
                state.release.wait(timeout=5)
            self.send_response(500 if failing else 200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/webhook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


@cache
def fixture_keys(object_type: str) -> frozenset[str]:
    """Top-level keys of Stripe's own fixture for an object type."""
    resources = json.loads(FIXTURES.read_text())["resources"]
    return frozenset(resources[object_type])


def assert_shape(obj: Any) -> None:
    """Every top-level key of Stripe's fixture for obj's type is present on obj."""
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj
    missing = fixture_keys(data["object"]) - set(data)
    assert not missing, f"{data['object']} lacks {sorted(missing)}"


def recurring_price(client: Any, amount: int = 1000, interval: str = "month") -> Any:
    """A monthly price on a fresh product."""
    return client.v1.prices.create(
        params={
            "currency": "usd",
            "unit_amount": amount,
            "recurring": {"interval": interval},
            "product_data": {"name": f"Plan {amount}"},
        }
    )


def customer_with_card(client: Any, card: str | None = "pm_card_visa", **params: Any) -> Any:
    """A customer whose default payment method is the given test card."""
    if card is None:
        return client.v1.customers.create(params=params)
    return client.v1.customers.create(
        params={
            "payment_method": card,
            "invoice_settings": {"default_payment_method": card},
            **params,
        }
    )


def event_types(client: Any, object_id: str) -> list[str]:
    """Types of the events about object_id, oldest first."""
    listed = client.v1.events.list(params={"limit": 100}).data
    return [e.type for e in reversed(listed) if e.data.object.to_dict().get("id") == object_id]
