"""A `billing-sandbox` subprocess for any test that needs Stripe: start, wait, stop."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import stripe

from tests.support.sandbox import wait_for

FAST_RETRIES = "0.05,0.1,0.2"


@dataclass
class Sandbox:
    """A running sandbox process and an SDK client pointed at it."""

    url: str
    process: subprocess.Popen[bytes]
    client: stripe.StripeClient

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=("sk_test_sandbox", ""), timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/_config/health", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def client_for(url: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_sandbox", base_addresses={"api": url}, max_network_retries=0
    )


def start(data_dir: Path, *extra: str) -> Sandbox:
    """Start billing-sandbox on a free port and wait until it answers."""
    port = free_port()
    script = Path(sys.executable).with_name("billing-sandbox")
    args = [str(script), "--port", str(port), "--data-dir", str(data_dir)]
    args += ["--webhook-retry-delays", FAST_RETRIES, "--async-payment-delay", "0.5", *extra]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: process.poll() is not None or _answers(url), timeout=20)
    except AssertionError:
        process.kill()
        raise
    assert process.poll() is None, "billing-sandbox exited at start"
    return Sandbox(url, process, client_for(url))


def stop(sandbox: Sandbox) -> None:
    sandbox.process.terminate()
    sandbox.process.wait(timeout=10)
