"""A proxy in front of the Stripe sandbox that sees every call the service makes to Stripe.

At the moment each call arrives it asks the service's database whether a transaction is
being held open meanwhile (on SQLite: can another connection take the write lock? on
PostgreSQL: is any session idle in a transaction?), and it can hold calls, as a Stripe
that hangs would. Point `STRIPE_API_BASE` at `url`; forwarded calls reach the sandbox
unchanged, so the sandbox stays the one real Stripe of the test.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from sqlalchemy import make_url

from tests.support.activity import idle_in_transaction

HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "host"}


def database_locked(database_url: str) -> bool:
    """Whether the service holds a transaction open on its database right now."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(str(url.database), timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            connection.close()

    return asyncio.run(idle_in_transaction(database_url)) > 0


@dataclass
class StripeProxy:
    upstream: str
    database_url: str | None = None  # checked at each call when set
    hold_seconds: float = 0.0  # how long each call waits before it is forwarded
    calls: list[str] = field(default_factory=list)
    calls_in_transaction: list[str] = field(default_factory=list)
    url: str = ""
    released: threading.Event = field(default_factory=threading.Event)

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> httpx.Response:
        call = f"{method} {path.partition('?')[0]}"
        self.calls.append(call)
        if self.database_url and database_locked(self.database_url):
            self.calls_in_transaction.append(call)
        if self.hold_seconds and self.released.wait(self.hold_seconds):
            return httpx.Response(503)  # the test ended meanwhile
        forwarded = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
        with httpx.Client(base_url=self.upstream, timeout=30) as client:
            return client.request(method, path, headers=forwarded, content=body)


def _handler(proxy: StripeProxy) -> type[BaseHTTPRequestHandler]:
    class Forward(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            reply = proxy.handle(self.command, self.path, dict(self.headers), body)
            self.send_response(reply.status_code)
            for name, value in reply.headers.items():
                if name.lower() not in HOP_BY_HOP | {"content-encoding"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.content)))
            self.end_headers()
            self.wfile.write(reply.content)

        do_GET = do_POST = do_DELETE = _forward

        def log_message(self, format: str, *args: object) -> None:
            return

    return Forward


@contextmanager
def stripe_proxy(
    upstream: str, *, database_url: str | None = None, hold_seconds: float = 0.0
) -> Iterator[StripeProxy]:
    """A running proxy to `upstream` for the block's duration."""
    proxy = StripeProxy(upstream, database_url, hold_seconds)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.released.set()
        server.shutdown()
        server.server_close()
