"""No secret in the logs of a full run: the real service with `STRIPE_DEBUG=true` (the
Stripe SDK logging every request and response body) against the sandbox, through a paid
checkout, a top-up intent, subscriptions, a refund and calls with tokens and API keys;
then the whole captured output is searched for every secret value that was used."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from billing.auth.api_keys import create_api_key
from billing.auth.tokens import issue_token
from billing.core.config import Settings
from billing.db.engine import Database
from billing.obs.redaction import REDACTED, redact
from tests.conftest import SANDBOX_SECRET_KEY
from tests.e2e.conftest import Live
from tests.support.flows import CARD, checkout, price
from tests.support.payments import fresh_user, new_key
from tests.support.sandbox import wait_for
from tests.support.sandbox_process import Sandbox
from tests.support.server import free_port, running_server
from tests.support.stripe_events import sign

JWT_SECRET = "a-jwt-secret-of-more-than-thirty-two-bytes-for-this-test"
CARD_NUMBER = CARD["number"]


@dataclass
class Recorded(Live):
    """A `Live` that remembers every secret the run hands out or uses."""

    secrets: set[str] = field(default_factory=set)

    def user(self, user_id: int) -> dict[str, str]:
        return self._bearer(user_id, "user")

    def admin(self) -> dict[str, str]:
        return self._bearer(1, "admin")

    def _bearer(self, user_id: int, role: Any) -> dict[str, str]:
        token = issue_token(self.settings, user_id, role, timedelta(minutes=30))
        self.secrets.add(token)
        return {"Authorization": f"Bearer {token}"}

    def keep(self, *values: str | None) -> None:
        self.secrets.update(value for value in values if value)


@dataclass
class Run:
    live: Recorded
    log: Path
    mode: str


@pytest.fixture(params=["development", "production"])
def run(
    request: pytest.FixtureRequest,
    database_url: str,
    stripe_sandbox: Sandbox,
    tmp_path: Path,
    settings: Settings,
) -> Iterator[Run]:
    """The service with debug logs on, in development (text) or production (JSON)
    mode, its webhook endpoint registered in the sandbox, its output to a file."""
    port = free_port()
    client = stripe_sandbox.client
    endpoint = client.v1.webhook_endpoints.create(
        {"url": f"http://127.0.0.1:{port}/api/stripe/webhook", "enabled_events": ["*"]}
    )
    encryption_key = Fernet.generate_key().decode()
    env = {
        "DATABASE_URL": database_url,
        "BILLING_DATA_DIR": str(tmp_path),
        "BILLING_RUN_WORKER": "true",
        "BILLING_ENV": request.param,
        "STRIPE_DEBUG": "true",
        "BILLING_JWT_SECRET": JWT_SECRET,
        "BILLING_ENCRYPTION_KEYS": encryption_key,
        "STRIPE_API_BASE": stripe_sandbox.url,
        "STRIPE_SECRET_KEY": SANDBOX_SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_sandbox",
        "STRIPE_WEBHOOK_SECRET": str(endpoint.secret),
        "BILLING_ALLOWED_REDIRECT_HOSTS": "app.example.com",
    }
    signing = settings.model_copy(update={"BILLING_JWT_SECRET": SecretStr(JWT_SECRET)})
    live = Recorded(port_url(port), signing, client, stripe_sandbox)
    live.keep(SANDBOX_SECRET_KEY, str(endpoint.secret), JWT_SECRET, encryption_key)
    log = tmp_path / "service.log"
    try:
        with running_server(env, port=port, output=log):
            yield Run(live, log, request.param)
    finally:
        client.v1.webhook_endpoints.delete(endpoint.id)


def port_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def api_key(database_url: str) -> str:
    async def create() -> str:
        database = Database(
            Settings(_env_file=None, BILLING_ENV="development", DATABASE_URL=database_url)
        )
        async with database.sessions() as session, session.begin():
            key, _ = await create_api_key(session, "service", "log test")
        await database.dispose()
        return key

    return asyncio.run(create())


def post(live: Recorded, path: str, body: dict[str, Any], user: int) -> dict[str, Any]:
    with live.http() as http:
        reply = http.post(path, json=body, headers={**live.user(user), **new_key()})
    assert reply.status_code == 200, reply.text
    answer: dict[str, Any] = reply.json()
    return answer


def pay_everything(live: Recorded, database_url: str) -> None:
    """Checkout paid by card, a top-up intent paid with its client secret, a subscription
    paid at once and one waiting for the card, a refund: each credit arriving by webhook."""
    user = fresh_user()
    top_up = price(live.stripe, 500, 500, monthly=False)
    session = checkout(live, user, top_up.id, "payment")  # card 4242... on the hosted page
    live.wait_balance(user, 500)

    description = f"top-up, card {CARD_NUMBER} pasted by mistake"
    intent = post(
        live,
        "/api/stripe/create-payment-intent",
        {"user_id": user, "amount": 1000, "currency": "usd", "description": description},
        user,
    )
    live.keep(intent["client_secret"])
    live.stripe.v1.payment_intents.confirm(intent["id"], {"payment_method": "pm_card_visa"})
    live.wait_balance(user, 1500)

    plan = price(live.stripe, 1000, 2000, monthly=True)
    paid = post(
        live,
        "/api/stripe/create-subscription",
        {"user_id": user, "price_id": plan.id, "payment_method_id": "pm_card_visa"},
        user,
    )
    assert paid["status"] == "active"
    live.wait_balance(user, 3500)
    waiting = post(
        live, "/api/stripe/create-subscription", {"user_id": user, "price_id": plan.id}, user
    )
    assert waiting["client_secret"]
    live.keep(waiting["client_secret"])

    live.stripe.v1.refunds.create({"payment_intent": session.payment_intent})
    live.wait_balance(user, 3000)

    key = api_key(database_url)
    live.keep(key)
    with live.http() as http:
        reply = http.get(f"/api/financial/credits/{user}", headers={"X-API-Key": key})
        assert reply.json()["balance"] == 3000
    careless_calls(live, user)
    wait_for(lambda: not live.inbox("pending") and not live.inbox("failed"), timeout=20)


def careless_calls(live: Recorded, user: int) -> None:
    """Secrets where clients should not put them: a token in a query string, forged and
    expired tokens, a bad API key, an unsigned webhook carrying a card number."""
    token = live.user(user)["Authorization"].removeprefix("Bearer ")
    expired = issue_token(live.settings, user, "user", timedelta(minutes=-5))
    forged = token[:-4] + "AAAA"
    bad_key = "bk_" + "x" * 43
    live.keep(expired, forged, bad_key)
    with live.http() as http:
        assert http.get("/healthz", params={"access_token": token}).status_code == 200
        bearers = [{"Authorization": f"Bearer {token}"} for token in (expired, forged)]
        for header in [*bearers, {"X-API-Key": bad_key}]:
            assert http.get(f"/api/financial/credits/{user}", headers=header).status_code == 401
        body = json.dumps({"id": "evt_x", "card": CARD_NUMBER}).encode()
        signature = sign(body, "whsec_not_the_secret")
        reply = http.post(
            "/api/stripe/webhook", content=body, headers={"Stripe-Signature": signature}
        )
        assert reply.status_code == 400
        live.keep(signature.partition("v1=")[2])


def test_no_secret_reaches_the_logs_of_a_full_run(run: Run, database_url: str) -> None:
    pay_everything(run.live, database_url)
    text = run.log.read_text()  # complete: the service has stopped
    leaked = sorted(secret for secret in run.live.secrets | {CARD_NUMBER} if secret in text)
    assert leaked == []
    assert "4242 4242 4242 4242" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert [line for line in lines if redact(line) != line] == []  # nothing left to redact
    # The logs were verbose enough to carry secrets, and did: the SDK's request and
    # response bodies, the service's debug lines, uvicorn's access log, all redacted.
    for expected in ("Post details", "API response body", "http_request", "webhook_event_done"):
        assert expected in text
    assert "access_token=" + REDACTED in text
    assert text.count(REDACTED) >= 3
    if run.mode == "production":
        records = [json.loads(line) for line in lines]  # every line is a JSON object
        assert all({"event", "level", "timestamp"} <= record.keys() for record in records)
    else:
        assert not [line for line in lines if line.startswith("{")]
