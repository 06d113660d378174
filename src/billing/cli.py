"""The `billing` command."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
import uvicorn
from sqlalchemy import make_url

from billing.auth import Role, create_api_key, issue_token
from billing.config import ConfigurationError, Settings, load_settings
from billing.credits.accounts import ADMIN_GRANT
from billing.credits.service import Transfer, balance, post
from billing.credits.verify import verify_ledger
from billing.db import Database
from billing.migrations import upgrade

app = typer.Typer(help="Billing service: Stripe payments and a prepaid credit ledger.")
api_key_app = typer.Typer(help="API keys for server-to-server callers.")
app.add_typer(api_key_app, name="api-key")

T = TypeVar("T")
DEMO_USER = 1


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        typer.secho(f"configuration error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc


def _with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        database = Database(settings)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


@app.command()
def migrate() -> None:
    """Bring the database schema to the latest migration."""
    settings = _settings()
    upgrade(settings.DATABASE_URL)
    typer.echo("database migrated to head")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
) -> None:
    """Serve the HTTP API."""
    settings = _settings()
    if settings.is_sqlite and workers > 1:
        typer.secho("SQLite runs one worker process; use PostgreSQL to scale out.", err=True)
        raise typer.Exit(2)
    uvicorn.run(
        "billing.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=settings.STRIPE_DEBUG,
        log_level="debug" if settings.STRIPE_DEBUG else "warning",
    )


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
) -> None:
    """Migrate the local database, grant a demo user credits, print tokens and serve."""
    settings = _settings()
    upgrade(settings.DATABASE_URL)

    async def welcome(database: Database) -> int:
        """Grant the demo user's credits once, however often the demo starts."""
        async with database.sessions() as session:
            grant = Transfer(ADMIN_GRANT, DEMO_USER, 1000, actor="demo", idempotency_key="demo:1")
            await post(session, grant)
            return (await balance(session, DEMO_USER)).balance

    credits = _with_database(settings, welcome)
    base = f"http://127.0.0.1:{port}"
    user = issue_token(settings, DEMO_USER, "user", timedelta(days=1))
    admin = issue_token(settings, DEMO_USER, "admin", timedelta(days=1))
    typer.echo(
        f"""
Billing demo on {make_url(settings.DATABASE_URL).render_as_string(hide_password=True)}
  API docs   {base}/docs
  Readiness  {base}/readyz
  Metrics    {base}/metrics
Demo user {DEMO_USER} holds {credits} credits.
  export USER_TOKEN={user}
  export ADMIN_TOKEN={admin}
  curl -H "Authorization: Bearer $USER_TOKEN" {base}/api/financial/credits/{DEMO_USER}
  curl -H "Authorization: Bearer $USER_TOKEN" -H 'Content-Type: application/json' \\
       -d '{{"amount": 25, "description": "demo"}}' {base}/api/financial/credits/{DEMO_USER}/spend
"""
    )
    serve(host="127.0.0.1", port=port, workers=1)


def _sandbox_command(
    port: int, data_dir: Path, webhook: str | None, secret: str | None
) -> list[str]:
    """The `billing-sandbox` command line; it runs as its own process (it is GPL, and
    the service never imports it)."""
    executable = shutil.which("billing-sandbox", path=str(Path(sys.executable).parent))
    executable = executable or shutil.which("billing-sandbox")
    if executable is None:
        raise typer.BadParameter("billing-sandbox is not installed: run `make install`")
    command = [executable, "--port", str(port), "--data-dir", str(data_dir)]
    if webhook:
        command += ["--webhook", webhook, "--webhook-secret", secret or ""]
    return command


@app.command()
def sandbox(
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8420,
    data_dir: Annotated[Path | None, typer.Option(help="Where its state lives")] = None,
    webhook: Annotated[str | None, typer.Option(help="URL to deliver events to")] = None,
    webhook_secret: Annotated[str | None, typer.Option(help="whsec_ secret to sign with")] = None,
) -> None:
    """Run the Stripe sandbox (an offline Stripe) in the foreground."""
    settings = _settings()
    directory = data_dir or settings.BILLING_DATA_DIR / "sandbox"
    command = _sandbox_command(port, directory, webhook, webhook_secret)
    raise typer.Exit(subprocess.call(command))  # noqa: S603 (our own installed script)


@app.command()
def token(
    user: Annotated[int, typer.Option(min=1, help="Platform user id (the token's sub)")],
    admin: Annotated[bool, typer.Option(help="Issue an admin token")] = False,
    ttl_minutes: Annotated[int, typer.Option(min=1, help="Minutes until it expires")] = 60,
) -> None:
    """Print a signed bearer token (JWT) for a user or an admin."""
    role: Role = "admin" if admin else "user"
    typer.echo(issue_token(_settings(), user, role, timedelta(minutes=ttl_minutes)))


@api_key_app.command("create")
def api_key_create(
    role: Annotated[str, typer.Option(help="service or admin")],
    name: Annotated[str, typer.Option(help="Who or what uses the key")],
) -> None:
    """Create an API key and print it once; only its hash is stored."""
    if role not in ("service", "admin"):
        typer.secho("--role must be service or admin", err=True)
        raise typer.Exit(2)

    async def create(database: Database) -> str:
        async with database.sessions() as session, session.begin():
            key, _ = await create_api_key(session, "admin" if role == "admin" else "service", name)
        return key

    typer.echo(_with_database(_settings(), create))


@app.command("verify-ledger")
def verify_ledger_command() -> None:
    """Check every ledger invariant; exit 1 naming what is broken."""

    async def verify(database: Database) -> bool:
        async with database.sessions() as session, session.begin():
            report = await verify_ledger(session)
        typer.echo(f"checked {report.transactions} transactions and {report.wallets} wallets")
        for check, rows in report.failures.items():
            typer.secho(f"FAILED: {check}: ids {rows}", err=True, fg=typer.colors.RED)
        if report.ok:
            typer.echo("ledger OK: every invariant holds")
        return report.ok

    if not _with_database(_settings(), verify):
        raise typer.Exit(1)
