"""End to end: the real service process, its in-process worker, and the Stripe sandbox
delivering signed webhooks to it over HTTP, as in production."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from billing.auth.tokens import issue_token
from billing.core.config import Settings
from tests.conftest import SANDBOX_SECRET_KEY
from tests.support.sandbox import wait_for
from tests.support.sandbox_process import Sandbox
from tests.support.server import free_port, running_server


@dataclass
class Live:
    """A running service wired to the sandbox."""

    url: str
    settings: Settings
    stripe: stripe.StripeClient
    sandbox: Sandbox

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=20)

    def user(self, user_id: int) -> dict[str, str]:
        token = issue_token(self.settings, user_id, "user", timedelta(minutes=30))
        return {"Authorization": f"Bearer {token}"}

    def admin(self) -> dict[str, str]:
        token = issue_token(self.settings, 1, "admin", timedelta(minutes=30))
        return {"Authorization": f"Bearer {token}"}

    def balance(self, user_id: int) -> int:
        with self.http() as http:
            reply = http.get(f"/api/financial/credits/{user_id}", headers=self.user(user_id))
        reply.raise_for_status()
        return int(reply.json()["balance"])

    def wait_balance(self, user_id: int, expected: int, timeout: float = 20) -> None:
        wait_for(lambda: self.balance(user_id) == expected, timeout=timeout)

    def inbox(self, status: str | None = None) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        cursor = None
        with self.http() as http:
            while True:
                params = {"limit": 100, **({"status": status} if status else {})}
                if cursor:
                    params["cursor"] = cursor
                page = http.get("/api/admin/webhooks", params=params, headers=self.admin()).json()
                events += page["data"]
                cursor = page["next_cursor"]
                if not cursor:
                    return events


@pytest.fixture
def live(
    database_url: str, stripe_sandbox: Sandbox, tmp_path: Path, settings: Settings
) -> Iterator[Live]:
    """The service on a fresh database, its webhook endpoint registered in the sandbox."""
    port = free_port()
    client = stripe_sandbox.client
    endpoint = client.v1.webhook_endpoints.create(
        {"url": f"http://127.0.0.1:{port}/api/stripe/webhook", "enabled_events": ["*"]}
    )
    env = {
        "DATABASE_URL": database_url,
        "BILLING_DATA_DIR": str(tmp_path),
        "BILLING_ENV": "development",
        "BILLING_RUN_WORKER": "true",
        "STRIPE_API_BASE": stripe_sandbox.url,
        "STRIPE_SECRET_KEY": SANDBOX_SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_sandbox",
        "STRIPE_WEBHOOK_SECRET": str(endpoint.secret),
        "BILLING_ALLOWED_REDIRECT_HOSTS": "app.example.com",
    }
    try:
        with running_server(env, port=port) as url:
            yield Live(url, settings, client, stripe_sandbox)
    finally:
        client.v1.webhook_endpoints.delete(endpoint.id)
