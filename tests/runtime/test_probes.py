"""`billing worker --probe-port`: the probes a Kubernetes Deployment points at a worker,
answered by the real process."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from billing.core.config import Settings
from billing.db.engine import Database
from tests.support.sandbox_process import free_port
from tests.support.worker import wait_until, worker_process

ONLY_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=1) as http:
            await http.get(url)
    except httpx.HTTPError:
        return False
    return True


@ONLY_SQLITE
async def test_a_worker_answers_its_probes_until_it_stops(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with worker_process(database_url, tmp_path, "--probe-port", str(port)) as process:
        await wait_until(lambda: answers(f"{base}/healthz"))
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            ready = await http.get("/readyz")
            assert (ready.status_code, ready.json()) == (200, {"status": "ok"})
            assert (await http.get("/nothing")).status_code == 404
            assert (await http.post("/healthz")).status_code == 404
            assert (await http.head("/readyz")).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
    assert not await answers(f"{base}/healthz")


@ONLY_SQLITE
async def test_a_worker_on_an_unmigrated_database_is_not_ready(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    database = Database(settings)
    async with database.engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    await database.dispose()
    port = free_port()
    with worker_process(database_url, tmp_path, "--probe-port", str(port)):
        await wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"))
        async with httpx.AsyncClient(timeout=5) as http:
            ready = await http.get(f"http://127.0.0.1:{port}/readyz")
    assert ready.status_code == 503
    assert "billing migrate" in ready.json()["detail"]


@ONLY_SQLITE
async def test_a_client_that_never_finishes_its_request_gets_no_answer(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    with worker_process(database_url, tmp_path, "--probe-port", str(port)):
        await wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # no blank line
            assert sock.recv(100) == b""  # closed after the read timeout, unanswered


@ONLY_SQLITE
async def test_a_worker_is_scraped_with_the_metrics_token(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its own counters (events processed, dead) exist only in the worker's process."""
    token = "t" * 40
    monkeypatch.setenv("BILLING_METRICS_TOKEN", token)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with worker_process(database_url, tmp_path, "--probe-port", str(port)):
        await wait_until(lambda: answers(f"{base}/healthz"))
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            refused = await http.get("/metrics")
            wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
            scraped = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert (refused.status_code, wrong.status_code) == (401, 401)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert "billing_webhook_processed_total" in scraped.text
