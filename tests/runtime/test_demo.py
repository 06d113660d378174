"""`billing demo` as a person runs it: a real process that starts its own Stripe sandbox,
sells the seeded catalog through the sandbox's hosted checkout page, and cleans up.

The demo runs on SQLite by design (issue 4), so these tests have no PostgreSQL variant.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from billing.core.config import DemoSettings, Settings
from billing.runtime.demo import WEBHOOK_STATE_FILE, register_webhook, sandbox_settings
from billing.stripe.client import create_client, require_client
from tests.support.sandbox import wait_for
from tests.support.sandbox_process import Sandbox, client_for
from tests.support.server import free_port

CARD_4242 = {"number": "4242424242424242", "exp_month": "12", "exp_year": "34", "cvc": "123"}
CATALOG = {  # name -> (unit_amount, interval, credits), as the issue asks
    "Starter": (1000, "month", 1000),
    "Pro": (5000, "month", 6000),
    "Top-up": (500, None, 500),
}
WELCOME = 1000
START_SECONDS = 60
CREDIT_SECONDS = 15
CHECKOUT_CURL = re.compile(r"curl (?:[^\n]*\\\n)*[^\n]*create-checkout-session")


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    base: str
    sandbox: str
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text()

    def token(self, name: str) -> str:
        found = re.search(rf"export {name}=(\S+)", self.output)
        assert found, self.output
        return found.group(1)

    def headers(self, name: str = "USER_TOKEN") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(name)}"}

    def balance(self) -> int:
        answer = httpx.get(f"{self.base}/api/financial/credits/1", headers=self.headers())
        return int(answer.json()["balance"])

    def products(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.base}/api/stripe/products")
        assert answer.status_code == 200, answer.text
        return {product["name"]: product for product in answer.json()["data"]}


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _environment(home: Path) -> dict[str, str]:
    """The caller's environment less anything that would change the demo, plus its dirs.
    No BILLING_ENV either: `billing demo` runs in development by itself, as `make demo`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "BILLING_"))}
    env.pop("DATABASE_URL", None)
    env["BILLING_DATA_DIR"] = str(home / "data")
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{home / 'demo.db'}"
    return env


@contextmanager
def running_demo(home: Path, sandbox_port: int | None = None) -> Iterator[Demo]:
    """`billing demo` on free ports, ready (its /readyz answers), stopped at the end."""
    port, sandbox_port = free_port(), sandbox_port or free_port()
    log = home / f"demo-{port}.log"
    command = [sys.executable, "-m", "billing", "demo", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--sandbox-port", str(sandbox_port)],
            env=_environment(home),
            cwd=home,  # no stray .env
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    demo = Demo(process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}", log)
    try:
        wait_for(lambda: process.poll() is not None or _answers(f"{demo.base}/readyz"), 60)
        assert process.poll() is None, f"billing demo exited:\n{demo.output}"
        yield demo
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _sandbox_pids(port: int) -> list[int]:
    """Live billing-sandbox processes serving this port (zombies are dead)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        serving = b"--port" in command and str(port).encode() in command
        if state != "Z" and serving and any(b"billing-sandbox" in part for part in command):
            found.append(int(entry.name))
    return found


def _stop(demo: Demo, signum: signal.Signals) -> None:
    """Stop the demo with a signal; its sandbox must go with it."""
    sandbox_port = int(demo.sandbox.rsplit(":", 1)[1])
    assert _sandbox_pids(sandbox_port), "the sandbox should run while the demo does"
    demo.process.send_signal(signum)
    assert demo.process.wait(timeout=20) == 0, demo.output
    assert "billing demo stopped" in demo.output
    assert not _answers(f"{demo.sandbox}/_config/health")
    assert _sandbox_pids(sandbox_port) == []


def _pay(session_url: str) -> None:
    """What the hosted page does when the buyer submits card 4242."""
    body = {"email": "buyer@example.com", "name": "Buyer", "card": CARD_4242}
    outcome = httpx.post(f"{session_url}/confirm", json=body, timeout=10).json()
    assert "redirect" in outcome, outcome


def _settled(demo: Demo, expected: int) -> None:
    """The balance reaches `expected` through the webhook and the inbox drains."""
    wait_for(lambda: demo.balance() >= expected, CREDIT_SECONDS)

    def drained() -> bool:
        url, admin = f"{demo.base}/api/admin/webhooks", demo.headers("ADMIN_TOKEN")
        due = [httpx.get(url, params={"status": s}, headers=admin) for s in ("pending", "failed")]
        return all(answer.json()["data"] == [] for answer in due)

    wait_for(drained, CREDIT_SECONDS)
    assert demo.balance() == expected


def test_the_demo_sells_its_catalog_and_the_credits_arrive_by_webhook(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:
        products = demo.products()
        assert set(products) == set(CATALOG)
        for name, (amount, interval, credits) in CATALOG.items():
            [price] = products[name]["prices"]
            assert (price["unit_amount"], price["currency"]) == (amount, "usd")
            assert (price["interval"], price["credits"]) == (interval, credits)
            assert price["id"] in demo.output
        assert f"{demo.base}/docs" in demo.output
        assert demo.sandbox in demo.output
        assert demo.balance() == WELCOME

        printed = CHECKOUT_CURL.search(demo.output)
        assert printed, demo.output
        env = {**os.environ, "USER_TOKEN": demo.token("USER_TOKEN")}
        curl = subprocess.run(
            ["bash", "-c", printed.group(0) + " --silent --fail-with-body"],
            env=env,
            capture_output=True,
            check=False,
        )
        assert curl.returncode == 0, curl.stdout + curl.stderr
        session = json.loads(curl.stdout)
        assert session["url"].startswith(demo.sandbox)
        assert httpx.get(session["url"]).status_code == 200  # the hosted page
        _pay(session["url"])
        _settled(demo, WELCOME + CATALOG["Starter"][2])
        _stop(demo, signal.SIGTERM)


def test_a_second_start_creates_nothing_and_its_webhook_still_verifies(tmp_path: Path) -> None:
    sandbox_port = free_port()
    with running_demo(tmp_path, sandbox_port) as first:
        prices = {name: p["prices"][0]["id"] for name, p in first.products().items()}
        _stop(first, signal.SIGINT)  # Ctrl-C
    state_file = tmp_path / "data" / "demo-webhook.json"
    assert state_file.stat().st_mode & 0o777 == 0o600
    endpoint_id = json.loads(state_file.read_text())["id"]

    with running_demo(tmp_path, sandbox_port) as second:
        assert {name: p["prices"][0]["id"] for name, p in second.products().items()} == prices
        stripe = client_for(second.sandbox)
        assert len(stripe.v1.prices.list(params={"limit": 100}).data) == len(CATALOG)
        assert len(stripe.v1.products.list(params={"limit": 100}).data) == len(CATALOG)
        endpoints = stripe.v1.webhook_endpoints.list(params={"limit": 100}).data
        assert [e.id for e in endpoints] == [endpoint_id]
        assert second.balance() == WELCOME  # the welcome grant happened once

        body = {
            "user_id": 1,
            "price_id": prices["Top-up"],
            "mode": "payment",
            "success_url": f"{second.base}/docs",
            "cancel_url": f"{second.base}/docs",
        }
        answer = httpx.post(
            f"{second.base}/api/stripe/create-checkout-session",
            json=body,
            headers=second.headers(),
        )
        assert answer.is_success, answer.text
        _pay(answer.json()["url"])
        _settled(second, WELCOME + CATALOG["Top-up"][2])
        _stop(second, signal.SIGTERM)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_demo_takes_its_sandbox_with_it(tmp_path: Path) -> None:
    sandbox_port = free_port()
    with running_demo(tmp_path, sandbox_port) as demo:
        assert _sandbox_pids(sandbox_port)
        demo.process.kill()
        demo.process.wait()
        wait_for(lambda: _sandbox_pids(sandbox_port) == [], 10)


def test_demo_settings_point_at_the_sandbox_and_keep_the_users_choices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://db.example/billing")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_the_users_own")  # live: refused
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_real")
    monkeypatch.setenv("STRIPE_CUSTOMER_PORTAL_URL", "https://billing.stripe.com/p/login/x")
    monkeypatch.setenv("STRIPE_API_VERSION", "2023-10-16")
    monkeypatch.setenv("BILLING_ALLOWED_REDIRECT_HOSTS", "app.example.com")
    demo = sandbox_settings(DemoSettings(_env_file=None), "http://127.0.0.1:8420")
    assert demo.BILLING_ENV == "development"  # unless BILLING_ENV says otherwise
    assert demo.STRIPE_API_BASE == "http://127.0.0.1:8420"
    assert demo.STRIPE_SECRET_KEY is not None
    assert demo.STRIPE_SECRET_KEY.get_secret_value() == "sk_test_demo"
    assert demo.STRIPE_PUBLISHABLE_KEY == "pk_test_demo"
    assert demo.webhook_secrets == []  # the endpoint's own comes later
    assert demo.STRIPE_CUSTOMER_PORTAL_URL is None
    assert demo.STRIPE_API_VERSION == "2023-10-16"
    assert demo.DATABASE_URL == "postgresql+asyncpg://db.example/billing"
    assert demo.allowed_redirect_hosts == {"app.example.com", "127.0.0.1", "localhost"}
    assert demo.run_worker  # even on PostgreSQL: the demo's credits arrive in process
    monkeypatch.setenv("BILLING_RUN_WORKER", "false")
    assert not sandbox_settings(DemoSettings(_env_file=None), "http://127.0.0.1:8420").run_worker


async def test_the_webhook_endpoint_is_reused_with_its_saved_secret(
    stripe_sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = Settings(
        _env_file=None,
        BILLING_ENV="development",
        STRIPE_API_BASE=stripe_sandbox.url,
        STRIPE_SECRET_KEY="sk_test_x",
    )
    client, admin = require_client(create_client(settings)), stripe_sandbox.client
    url = f"http://127.0.0.1:{free_port()}/api/stripe/webhook"
    state = tmp_path / WEBHOOK_STATE_FILE

    def at_url() -> list[str]:
        listed = admin.v1.webhook_endpoints.list(params={"limit": 100})
        return [e.id for e in listed.auto_paging_iter() if e.url == url]

    stranger = admin.v1.webhook_endpoints.create(params={"url": url, "enabled_events": ["*"]})
    try:
        secret = await register_webhook(client, url, state)
        [first] = at_url()
        assert first != stranger.id  # its secret is unknown: it would only fail to verify
        assert json.loads(state.read_text()) == {"id": first, "secret": secret}
        assert state.stat().st_mode & 0o777 == 0o600
        assert await register_webhook(client, url, state) == secret
        assert at_url() == [first]
        state.unlink()
        renewed = await register_webhook(client, url, state)
        assert renewed != secret
        assert at_url() == [json.loads(state.read_text())["id"]] != [first]
    finally:
        for endpoint_id in at_url():
            admin.v1.webhook_endpoints.delete(endpoint_id)


def test_a_taken_sandbox_port_stops_the_demo_before_it_seeds_anything(
    stripe_sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox_port = stripe_sandbox.url.rsplit(":", 1)[1]
    command = [sys.executable, "-m", "billing", "demo", "--port", str(free_port())]
    finished = subprocess.run(
        [*command, "--sandbox-port", sandbox_port],
        env=_environment(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 1
    assert b"already answers" in finished.stderr
    seeded = stripe_sandbox.client.v1.prices.list(params={"lookup_keys": ["demo_starter_monthly"]})
    assert seeded.data == []
    assert _answers(f"{stripe_sandbox.url}/_config/health")
