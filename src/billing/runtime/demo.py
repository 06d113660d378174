"""`billing demo`: the whole service offline, against the Stripe sandbox.

The sandbox runs as a child process (it is GPL; the service only talks to it
over HTTP) and is stopped however the demo ends: a normal exit, Ctrl-C,
SIGTERM, or on Linux the demo dying outright, so it never holds its port after
the demo. What the demo creates in the sandbox is found again on the next start
(prices by lookup key, the webhook endpoint by the id saved with its secret), so
starting twice creates nothing twice.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import NoReturn

import httpx
import stripe
import typer
import uvicorn
from pydantic import SecretStr
from sqlalchemy import make_url
from stripe.params import PriceCreateParams

from billing.auth.tokens import issue_token
from billing.catalog.sync import sync_catalog
from billing.core.config import Settings
from billing.credits.accounts import ADMIN_GRANT
from billing.credits.balances import balance
from billing.credits.service import post
from billing.credits.transfers import Transfer
from billing.db.engine import Database
from billing.http.app import create_app, server_options
from billing.migrations import upgrade
from billing.stripe.client import create_client, request_key, require_client

DEMO_USER = 1
WELCOME_CREDITS = 1000
SECRET_KEY = "sk_test_demo"  # noqa: S105 (any sk_test_ key opens the sandbox)
PUBLISHABLE_KEY = "pk_test_demo"
REDIRECT_HOSTS = ("127.0.0.1", "localhost")
WEBHOOK_STATE_FILE = "demo-webhook.json"
WEBHOOK_MARK = "created by billing demo"
SANDBOX_START_SECONDS = 30
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Plan:
    """One item of the demo catalog; its lookup key finds it again on the next start."""

    lookup_key: str
    name: str
    unit_amount: int  # US cents
    credits: int
    interval: str | None = None  # None: a one-time price

    @property
    def mode(self) -> str:
        return "subscription" if self.interval else "payment"

    def describe(self) -> str:
        every = f"per {self.interval}" if self.interval else "once"
        amount = f"{self.unit_amount / 100:>5.2f} USD {every}"
        return f"{self.name:<8} {amount:<20} {self.credits:>5} credits"


CATALOG = (
    Plan("demo_starter_monthly", "Starter", 1000, 1000, "month"),
    Plan("demo_pro_monthly", "Pro", 5000, 6000, "month"),
    Plan("demo_topup_500", "Top-up", 500, 500),
)
STARTER = CATALOG[0]


@dataclass(frozen=True)
class Prepared:
    """The service's settings and what the banner shows."""

    settings: Settings
    prices: dict[str, str]  # price id by lookup key
    credits: int


def sandbox_settings(settings: Settings, sandbox_url: str) -> Settings:
    """The user's settings pointed at the sandbox.

    Stripe keys, base URL and portal link are always the sandbox's, so a real key in
    `.env` is never used to seed demo products; the database, API version and
    everything else stay the user's. The worker runs in process unless the user
    said otherwise, and redirects to this machine are always allowed.
    """
    hosts = sorted({*REDIRECT_HOSTS, *settings.allowed_redirect_hosts})
    run_worker = settings.BILLING_RUN_WORKER
    if "BILLING_RUN_WORKER" not in settings.model_fields_set:
        run_worker = True
    return settings.model_copy(
        update={
            "STRIPE_API_BASE": sandbox_url,
            "STRIPE_SECRET_KEY": SecretStr(SECRET_KEY),
            "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
            "STRIPE_WEBHOOK_SECRET": None,
            "STRIPE_CUSTOMER_PORTAL_URL": None,
            "BILLING_RUN_WORKER": run_worker,
            "BILLING_ALLOWED_REDIRECT_HOSTS": ",".join(hosts),
        }
    )


async def seed_catalog(client: stripe.StripeClient) -> dict[str, str]:
    """Price ids by lookup key: each plan's price found by its key, else created with its
    product inline (one call, so a failure never leaves a product without its price)."""
    keys = [plan.lookup_key for plan in CATALOG]
    found = await client.v1.prices.list_async({"lookup_keys": keys, "limit": len(keys)})
    prices = {price.lookup_key: price.id for price in found.data if price.lookup_key}
    for plan in CATALOG:
        if plan.lookup_key not in prices:
            key = request_key("demo-price", plan.lookup_key, None)
            price = await client.v1.prices.create_async(
                _price_params(plan), {"idempotency_key": key}
            )
            prices[plan.lookup_key] = price.id
    return prices


def _price_params(plan: Plan) -> PriceCreateParams:
    params: PriceCreateParams = {
        "currency": "usd",
        "unit_amount": plan.unit_amount,
        "lookup_key": plan.lookup_key,
        "metadata": {"credits": str(plan.credits)},
        "product_data": {"name": plan.name},
    }
    if plan.interval:
        params["recurring"] = {"interval": plan.interval}
    return params


async def register_webhook(client: stripe.StripeClient, url: str, state_file: Path) -> str:
    """The signing secret of the demo's endpoint, delivering every event to url.

    Stripe shows a secret only when it creates the endpoint, so the demo keeps it
    (mode 0600) with the endpoint id and reuses that endpoint while the sandbox
    still has it. Endpoints it could not verify (the same URL without a saved
    secret, or earlier demo endpoints) are deleted: each event arrives once, signed
    with a secret the service knows.
    """
    saved = _load_state(state_file)
    page = await client.v1.webhook_endpoints.list_async({"limit": 100})
    endpoints = [endpoint async for endpoint in page.auto_paging_iter()]
    kept = next((e for e in endpoints if saved and e.id == saved[0]), None)
    for endpoint in endpoints:
        ours = endpoint.url == url or endpoint.description == WEBHOOK_MARK
        if ours and endpoint is not kept:
            await client.v1.webhook_endpoints.delete_async(endpoint.id)
    if kept is not None and saved:
        await client.v1.webhook_endpoints.update_async(
            kept.id, {"url": url, "enabled_events": ["*"], "disabled": False}
        )
        return saved[1]
    created = await client.v1.webhook_endpoints.create_async(
        {"url": url, "enabled_events": ["*"], "description": WEBHOOK_MARK},
        {"idempotency_key": request_key("demo-webhook", url, None)},
    )
    if not created.secret:
        _fail("the sandbox created a webhook endpoint without a secret")
    _save_state(state_file, created.id, created.secret)
    return created.secret


def _load_state(path: Path) -> tuple[str, str] | None:
    try:
        state = json.loads(path.read_text())
        return str(state["id"]), str(state["secret"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save_state(path: Path, endpoint_id: str, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        os.fchmod(file.fileno(), 0o600)  # an older file may have been wider
        json.dump({"id": endpoint_id, "secret": secret}, file)


async def prepare(settings: Settings, webhook_url: str) -> Prepared:
    """Seed the sandbox, register the webhook, mirror the catalog, fund the demo user."""
    client = require_client(create_client(settings))
    prices = await seed_catalog(client)
    secret = await register_webhook(
        client, webhook_url, settings.BILLING_DATA_DIR / WEBHOOK_STATE_FILE
    )
    database = Database(settings)
    try:
        await sync_catalog(database, client)
        grant = Transfer(
            ADMIN_GRANT, DEMO_USER, WELCOME_CREDITS, actor="demo", idempotency_key="demo:1"
        )
        await post(database, grant)  # once, however often the demo starts
        async with database.sessions() as session:
            credits = (await balance(session, DEMO_USER)).balance
    finally:
        await database.dispose()
    served = settings.model_copy(update={"STRIPE_WEBHOOK_SECRET": SecretStr(secret)})
    return Prepared(served, prices, credits)


def _die_with_parent() -> None:
    """Runs in the sandbox's process before exec: SIGTERM it if the demo dies, even by
    SIGKILL, so a killed demo never leaves the sandbox holding its port (Linux only)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextmanager
def running_sandbox(command: list[str], url: str) -> Iterator[None]:
    """Run the sandbox while the block runs; stop it however the block ends."""
    if _healthy(url):  # else the demo would seed whichever sandbox already runs there
        _fail(f"a Stripe sandbox already answers on {url}: choose another --sandbox-port")
    linux = sys.platform.startswith("linux")
    process = subprocess.Popen(  # noqa: S603 (our own installed script)
        command,
        stdout=subprocess.DEVNULL,
        preexec_fn=_die_with_parent if linux else None,
    )
    try:
        _wait_until_healthy(process, url)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + SANDBOX_START_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        if _healthy(url):
            return
        time.sleep(0.1)
    _fail(f"the Stripe sandbox did not start on {url}: is the port free?")


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_config/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _fail(message: str) -> NoReturn:
    typer.secho(f"billing demo: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Make SIGTERM unwind the stack like Ctrl-C, so the sandbox is stopped on the way out.
    (uvicorn catches both while it serves, and raises the signal again once it has shut
    down; it then reaches this handler.)"""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def banner(prepared: Prepared, base: str, sandbox_url: str) -> str:
    """What to open and run, with tokens for the demo user."""
    settings = prepared.settings
    user = issue_token(settings, DEMO_USER, "user", timedelta(days=1))
    admin = issue_token(settings, DEMO_USER, "admin", timedelta(days=1))
    database = make_url(settings.DATABASE_URL).render_as_string(hide_password=True)
    catalog = "\n".join(
        f"  {plan.describe()}  {prepared.prices[plan.lookup_key]}" for plan in CATALOG
    )
    checkout = json.dumps(
        {
            "user_id": DEMO_USER,
            "price_id": prepared.prices[STARTER.lookup_key],
            "mode": STARTER.mode,
            "success_url": f"{base}/docs",
            "cancel_url": f"{base}/docs",
        }
    )
    return f"""
Billing demo on {database}
  Web app         {base}/
  API docs        {base}/docs
  Products        {base}/api/stripe/products
  Stripe sandbox  {sandbox_url}  (events go to {base}/api/stripe/webhook)
  Dashboard       {sandbox_url}/dashboard  (the sandbox's customers, invoices, events)
  Readiness       {base}/readyz
  Metrics         {base}/metrics
Catalog, seeded in the sandbox and mirrored locally:
{catalog}
Demo user {DEMO_USER} holds {prepared.credits} credits.
  export USER_TOKEN={user}
  export ADMIN_TOKEN={admin}
  curl -H "Authorization: Bearer $USER_TOKEN" {base}/api/financial/credits/{DEMO_USER}
  curl -H "Authorization: Bearer $USER_TOKEN" -H 'Content-Type: application/json' \\
       -d '{{"amount": 25, "description": "demo"}}' {base}/api/financial/credits/{DEMO_USER}/spend
Buy the Starter plan: this prints a checkout session whose "url" opens the sandbox's
hosted checkout page; pay with card 4242 4242 4242 4242 (any future date, any CVC) and
the plan's {STARTER.credits} credits arrive through the webhook.
  curl -H "Authorization: Bearer $USER_TOKEN" -H 'Content-Type: application/json' \\
       -d '{checkout}' \\
       {base}/api/stripe/create-checkout-session
"""


def run(settings: Settings, sandbox_command: list[str], port: int, sandbox_port: int) -> None:
    """Migrate, start the sandbox, prepare, print the banner and serve until stopped."""
    if settings.BILLING_ENV == "production":
        _fail("it grants free credits, so not with BILLING_ENV=production")
    upgrade(settings.DATABASE_URL)
    base, sandbox_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}"
    with _sigterm_unwinds(), running_sandbox(sandbox_command, sandbox_url):
        sandboxed = sandbox_settings(settings, sandbox_url)
        prepared = asyncio.run(prepare(sandboxed, f"{base}/api/stripe/webhook"))
        typer.echo(banner(prepared, base, sandbox_url))
        uvicorn.run(
            create_app(prepared.settings), host="127.0.0.1", port=port, **server_options(settings)
        )
    typer.echo("billing demo stopped, and the Stripe sandbox with it")
