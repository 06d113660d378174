"""The `billing` command."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import stripe
import typer
import uvloop

from billing.audit.chain import audit_summary, seal
from billing.auth.api_keys import create_api_key
from billing.auth.principals import Role
from billing.auth.tokens import issue_token
from billing.compliance.export import open_export
from billing.compliance.retention import RetentionCounts, run_retention
from billing.compliance.rotation import RotationCounts, count_rows, rotate_keys
from billing.core.config import DemoSettings, Settings
from billing.core.encryption import PersonalDataUnreadable
from billing.core.errors import StripeProblem
from billing.core.times import utcnow
from billing.credits.verify import verify_ledger
from billing.db.engine import Database
from billing.http.app import server_options
from billing.migrations import upgrade
from billing.obs.alerts import configure_alerts
from billing.obs.logs import configure_logging
from billing.payments.checks import SUMMARY_CHECKS
from billing.payments.sync import SyncCounts, sync_all
from billing.runtime import server
from billing.runtime.commands import (
    CLI_ACTOR,
    T,
    configuration_or_exit,
    settings_or_exit,
    with_database,
)
from billing.runtime.demo import run as run_demo
from billing.runtime.webhooks_cli import webhooks_app
from billing.runtime.worker import Probes, run_process
from billing.stripe.client import create_client
from billing.webhooks.reconcile import SAFETY_MARGIN, Progress, reconcile_events
from billing.webhooks.worker import POLL_INTERVAL

app = typer.Typer(help="Billing service: Stripe payments and a prepaid credit ledger.")
api_key_app = typer.Typer(help="API keys for server-to-server callers.")
app.add_typer(api_key_app, name="api-key")
app.add_typer(webhooks_app, name="webhooks")


@app.command()
def migrate() -> None:
    """Bring the database schema to the latest migration."""
    settings = settings_or_exit()
    upgrade(settings.DATABASE_URL, pgbouncer=settings.DATABASE_PGBOUNCER)
    typer.echo("database migrated to head")


@app.command()
def worker(
    poll_interval: Annotated[
        float, typer.Option(min=0.01, help="Seconds between looks at an idle inbox")
    ] = POLL_INTERVAL,
    probe_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Answer /healthz and /readyz on this port"),
    ] = None,
) -> None:
    """Process the webhook inbox until SIGTERM or SIGINT (the event in hand finishes)."""
    settings = settings_or_exit()
    configure_logging(settings)
    configure_alerts(settings)
    probes = None if probe_port is None else Probes(probe_port)
    with configuration_or_exit():
        started = uvloop.run(run_process(settings, poll_interval, probes))  # as `serve` runs
    if not started:
        typer.secho(
            "Another process already runs this SQLite database's worker (`billing serve`"
            " runs one unless BILLING_RUN_WORKER=false).",
            err=True,
        )
        raise typer.Exit(2)


def _stripe_client(settings: Settings) -> stripe.StripeClient:
    client = create_client(settings)
    if client is None:
        typer.secho("STRIPE_SECRET_KEY is not set.", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    return client


def _with_stripe(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work`, reporting a Stripe failure as one line and exit 1."""
    try:
        return with_database(settings, work)
    except StripeProblem as exc:
        typer.secho(f"Stripe error: {exc.detail} ({exc.extra['stripe_code']})", err=True)
        raise typer.Exit(1) from exc


@app.command()
def reconcile(
    margin_hours: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Start this long before the newest inbox event"
            f" [default: {SAFETY_MARGIN.total_seconds() / 3600:g}]",
        ),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=30,
            help="Scan every event Stripe created in the last N days instead (it keeps 30)",
        ),
    ] = None,
) -> None:
    """File Stripe events missing from the webhook inbox (missed deliveries)."""
    if days is not None and margin_hours is not None:
        raise typer.BadParameter("give --days or --margin-hours, not both")
    settings = settings_or_exit()
    client = _stripe_client(settings)

    def report(progress: Progress) -> None:
        typer.echo(
            f"page {progress.pages}: {progress.seen} events seen, {progress.inserted} inserted"
        )

    async def work(database: Database) -> Progress:
        margin = SAFETY_MARGIN if margin_hours is None else timedelta(hours=margin_hours)
        return await reconcile_events(database, settings, client, report, margin, days)

    if days is None:
        typer.echo("listing Stripe events since the newest in the inbox, less the margin")
    else:
        typer.echo(f"listing Stripe events of the last {days} days")
    done = _with_stripe(settings, work)
    since = done.since.isoformat() if done.since else "the oldest Stripe keeps"
    typer.echo(
        f"reconciled from {since}: {done.seen} events seen on {done.pages} pages,"
        f" {done.inserted} missing and now filed"
    )


@app.command()
def sync() -> None:
    """Refresh the catalog and every known customer's subscriptions from Stripe."""
    settings = settings_or_exit()
    client = _stripe_client(settings)

    async def work(database: Database) -> SyncCounts:
        return await sync_all(database, client)

    counts = _with_stripe(settings, work)
    typer.echo(
        f"synced {counts.products} products, {counts.prices} prices,"
        f" {counts.subscriptions} subscriptions of {counts.customers} customers"
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
) -> None:
    """Serve the HTTP API."""
    settings = settings_or_exit()
    if settings.is_sqlite and workers > 1:
        typer.secho("SQLite runs one worker process; use PostgreSQL to scale out.", err=True)
        raise typer.Exit(2)
    configure_logging(settings)  # the supervising process logs like its workers
    server.serve(host, port, workers, server_options(settings))


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port the service listens on")] = 8000,
    sandbox_port: Annotated[int, typer.Option(help="Port the Stripe sandbox listens on")] = 8420,
) -> None:
    """Run the service against the Stripe sandbox, with a seeded catalog and a funded user
    (in development unless BILLING_ENV says otherwise; it refuses production)."""
    settings = settings_or_exit(DemoSettings)
    command = _sandbox_command(sandbox_port, settings.BILLING_DATA_DIR / "sandbox", None, None)
    run_demo(settings, command, port, sandbox_port)


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
    settings = settings_or_exit(DemoSettings)
    directory = data_dir or settings.BILLING_DATA_DIR / "sandbox"
    command = _sandbox_command(port, directory, webhook, webhook_secret)
    # Become the sandbox: a SIGTERM (a supervisor's stop, a test's) then reaches it, where a
    # child process would outlive this one.
    os.execv(command[0], command)  # noqa: S606 (our own installed script)


@app.command()
def token(
    user: Annotated[int, typer.Option(min=1, help="Platform user id (the token's sub)")],
    admin: Annotated[bool, typer.Option(help="Issue an admin token")] = False,
    ttl_minutes: Annotated[int, typer.Option(min=1, help="Minutes until it expires")] = 60,
) -> None:
    """Print a signed bearer token (JWT) for a user or an admin."""
    role: Role = "admin" if admin else "user"
    typer.echo(issue_token(settings_or_exit(), user, role, timedelta(minutes=ttl_minutes)))


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

    typer.echo(with_database(settings_or_exit(), create))


@app.command("verify-ledger")
def verify_ledger_command() -> None:
    """Check every ledger invariant and the audit log's hash chain (sealing what has
    committed first); exit 1 naming what is broken."""

    async def verify(database: Database) -> bool:
        await seal(database)
        async with database.sessions() as session, session.begin():
            report = await verify_ledger(session, SUMMARY_CHECKS)
        typer.echo(f"checked {report.transactions} transactions and {report.wallets} wallets")
        typer.echo(audit_summary(report.chain))
        for check, rows in report.failures.items():
            typer.secho(f"FAILED: {check}: ids {rows}", err=True, fg=typer.colors.RED)
        if report.ok:
            typer.echo("ledger OK: every invariant holds")
        return report.ok

    if not with_database(settings_or_exit(), verify):
        raise typer.Exit(1)


@app.command("rotate-keys")
def rotate_keys_command(
    batch_size: Annotated[
        int, typer.Option(min=1, help="Rows (customers, then webhook events) per transaction")
    ] = 500,
) -> None:
    """Re-encrypt everything encrypted (customer rows, webhook payloads, webhook endpoint
    secrets) under the first BILLING_ENCRYPTION_KEYS key; safe to stop and run again.
    Afterwards the older keys can be removed."""
    settings = settings_or_exit()

    async def work(database: Database) -> RotationCounts:
        total = await count_rows(database)
        with typer.progressbar(length=total, label="re-encrypting personal data") as bar:
            return await rotate_keys(database, settings, CLI_ACTOR, bar.update, batch_size)

    counts = with_database(settings, work)
    typer.echo(
        f"{counts.rotated} values re-encrypted, {counts.current} already under the newest key"
    )
    if not counts.ok:
        unreadable = [
            f"{what} {ids}"
            for what, ids in (
                ("customer rows", counts.unreadable),
                ("webhook events", counts.unreadable_events),
                ("webhook endpoints", counts.unreadable_endpoints),
            )
            if ids
        ]
        typer.secho(
            "FAILED: no configured key decrypts " + " and ".join(unreadable),
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(1)


@app.command("export")
def export_command(
    user: Annotated[int, typer.Option(min=1, help="Platform user id")],
    output: Annotated[Path | None, typer.Option(help="File to write (default: stdout)")] = None,
) -> None:
    """Write all of a user's payment data as one JSON document."""
    settings = settings_or_exit()

    async def work(database: Database) -> None:
        chunks = await open_export(database, settings, user)
        with output.open("wb") if output else contextlib.nullcontext(sys.stdout.buffer) as sink:
            async for chunk in chunks:
                sink.write(chunk)

    try:
        with_database(settings, work)
    except PersonalDataUnreadable as exc:
        typer.secho(f"FAILED: {exc.detail}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc


@app.command()
def retention() -> None:
    """Apply the retention rules now (the worker does it every hour)."""
    settings = settings_or_exit()

    async def work(database: Database) -> RetentionCounts:
        return await run_retention(database, settings, utcnow())

    counts = with_database(settings, work)
    typer.echo(
        f"{counts.webhook_payloads_pruned} webhook payloads older than"
        f" {settings.BILLING_WEBHOOK_RETENTION_DAYS} days pruned,"
        f" {counts.idempotency_keys_deleted} expired idempotency keys deleted"
    )
