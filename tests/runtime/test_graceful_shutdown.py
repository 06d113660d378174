"""SIGTERM stops `billing serve` gracefully: it stops listening at once, and a request
already in flight (here, a webhook delivery whose body is still arriving) is answered and
its effect kept before the processes exit (within `DRAIN_SECONDS`)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from pathlib import Path

from sqlalchemy import select

from billing.core.config import Settings
from billing.db.engine import Database
from billing.webhooks.models import WebhookEvent
from tests.conftest import WEBHOOK_SECRET
from tests.runtime.test_server import server_pid, until
from tests.support.server import free_port, running_server
from tests.support.stripe_events import sign, stripe_event


def _request_head(body: bytes, port: int) -> bytes:
    lines = [
        "POST /api/stripe/webhook HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"Stripe-Signature: {sign(body, WEBHOOK_SECRET)}",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _running(pid: int) -> bool:
    """Whether `pid` runs (its parent, the test, reaps it later: a zombie has exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_sigterm_finishes_the_request_in_flight_and_takes_no_new_one(
    database_url: str, tmp_path: Path
) -> None:
    """One process on SQLite; on PostgreSQL two worker processes under the supervisor,
    which passes the signal on."""
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "BILLING_DATA_DIR": str(tmp_path),
        "BILLING_ENV": "development",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    workers = 1 if database_url.startswith("sqlite") else 2
    body = stripe_event("customer.updated")
    with running_server(env, workers=workers, port=port):
        pid = server_pid(port)
        delivery = socket.create_connection(("127.0.0.1", port), timeout=10)
        delivery.sendall(_request_head(body, port) + body[:10])  # in flight: body arriving
        time.sleep(0.5)  # the server has the request
        os.kill(pid, signal.SIGTERM)
        until("the server stops listening", lambda: _refused(port), timeout=10)
        assert _running(pid)  # still finishing the request in flight
        delivery.sendall(body[10:])
        answer = b""
        while chunk := delivery.recv(65536):
            answer += chunk
        delivery.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        until("the server exits", lambda: not _running(pid), timeout=45)
    assert asyncio.run(_stored(database_url, json.loads(body)["id"])) == 1


async def _stored(url: str, event_id: str) -> int:
    database = Database(Settings(_env_file=None, BILLING_ENV="development", DATABASE_URL=url))
    try:
        async with database.sessions() as session:
            query = select(WebhookEvent.id).where(WebhookEvent.stripe_event_id == event_id)
            return len((await session.scalars(query)).all())
    finally:
        await database.dispose()
