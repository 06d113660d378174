"""`billing serve --workers N` (billing/runtime/server.py): the connections spread over the worker
processes, a worker process that dies is replaced, SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import NO_POSTGRES, POSTGRES_URL
from tests.support.server import free_port, running_server

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)
WORKERS, CONNECTIONS = 2, 24
ESTABLISHED, LISTEN = "01", "0A"


def children(pid: int) -> list[int]:
    """The worker processes of supervisor `pid` (not multiprocessing's resource tracker)."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
        except OSError:  # exited meanwhile
            continue
    return found


def server_pid(port: int) -> int:
    """The supervisor: the `billing serve` process started for `port`."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in command and str(port).encode() in command:
                return int(entry.name)
    raise LookupError(f"no billing serve on port {port}")


def sockets(pid: int, port: int, state: str) -> int:
    """How many TCP sockets in `state` on local `port` process `pid` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == state and fields[9] in inodes:
            count += 1
    return count


def until(condition: str, check: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting until {condition}"
        time.sleep(0.1)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, int, int]]:
    """(base URL, port, supervisor pid) of a two-worker server, every worker listening."""
    port = free_port()
    env = {
        "DATABASE_URL": POSTGRES_URL or "",
        "BILLING_DATA_DIR": str(tmp_path),
        "BILLING_ENV": "development",
    }
    with running_server(env, workers=WORKERS, port=port) as url:
        pid = server_pid(port)
        until(
            "every worker listens",
            lambda: (
                len(children(pid)) == WORKERS
                and all(sockets(child, port, LISTEN) == 1 for child in children(pid))
            ),
        )
        yield url, port, pid


def test_a_burst_of_connections_spreads_over_every_worker_process(
    served: tuple[str, int, int],
) -> None:
    """As a load generator or a proxy's keep-alive pool opens them: all at once. From one
    shared socket, whichever process woke first accepted nearly all (55 of 64 under wrk);
    spread by the kernel's hash of each connection, neither gets fewer than a sixth."""
    _, port, pid = served
    burst = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
    try:
        until(
            "every connection is accepted",
            lambda: (
                sum(sockets(child, port, ESTABLISHED) for child in children(pid)) == CONNECTIONS
            ),
        )
        held = [sockets(child, port, ESTABLISHED) for child in children(pid)]
    finally:
        for connection in burst:
            connection.close()
    assert min(held) >= CONNECTIONS // 6, held


def test_a_dead_worker_process_is_replaced_and_sigterm_stops_them_all(
    served: tuple[str, int, int],
) -> None:
    url, port, pid = served
    victim, survivor = children(pid)
    os.kill(victim, signal.SIGKILL)
    until(
        "a replacement listens",
        lambda: (
            victim not in children(pid)
            and len(children(pid)) == WORKERS
            and all(sockets(child, port, LISTEN) == 1 for child in children(pid))
        ),
    )
    for _ in range(20):  # new connections, whichever process takes them
        assert httpx.get(f"{url}/healthz", headers={"Connection": "close"}).status_code == 200
    workers = children(pid)
    assert survivor in workers
    os.kill(pid, signal.SIGTERM)
    until("every process exited", lambda: not any(Path(f"/proc/{p}").exists() for p in workers))
