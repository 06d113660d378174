"""Run `billing serve` as a real process for tests that need one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_ready(
    process: subprocess.Popen[bytes], log: IO[bytes], base_url: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")[-4000:]
            raise RuntimeError(f"billing serve exited with {process.returncode}: {output}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("billing serve did not become ready")
        time.sleep(0.1)


@contextmanager
def running_server(
    env: dict[str, str],
    workers: int = 1,
    timeout: float = 30,
    port: int | None = None,
    output: Path | None = None,
) -> Iterator[str]:
    """Start the service, wait until /readyz answers 200, yield its base URL, stop it.

    Its output goes to a file, never to an unread pipe that would block it when full:
    to `output` if given (complete once the block ends), else a temporary one.
    """
    port = port or free_port()
    command = [sys.executable, "-m", "billing", "serve", "--port", str(port)]
    with output.open("w+b") if output else tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_ready(process, log, base_url, timeout)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
