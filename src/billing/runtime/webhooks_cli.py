"""`billing webhooks ...`: tools for the platform's webhooks, run by an operator."""

from __future__ import annotations

import re
import sys
import time
from typing import Annotated

import typer

from billing.db.engine import Database
from billing.outbound import deliveries, sending
from billing.outbound.deliveries import DeliveryView
from billing.outbound.dispatcher import deliver
from billing.outbound.models import DELIVERED
from billing.outbound.signatures import BadSignature, verify
from billing.runtime.commands import CLI_ACTOR, settings_or_exit, with_database

webhooks_app = typer.Typer(help="Webhooks to the platform.")
BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def parse_message(raw: bytes) -> tuple[dict[str, str], bytes]:
    """The headers and body of a message saved as received: header lines (a request line
    before them is skipped), a blank line, the body."""
    parts = BLANK_LINE.split(raw, maxsplit=1)
    head, body = parts[0], parts[1] if len(parts) > 1 else b""
    headers = {}
    for line in head.decode("latin-1").splitlines():
        name, colon, value = line.partition(":")
        if colon and " " not in name.strip():
            headers[name.strip().lower()] = value.strip()
    return headers, body


@webhooks_app.command("verify")
def verify_command(
    secret: Annotated[str, typer.Option(help="The endpoint's signing secret (whsec_...)")],
    tolerance: Annotated[int, typer.Option(help="Seconds a timestamp stays valid")] = 300,
) -> None:
    """Check one message by hand: its headers, a blank line and its body, on stdin."""
    headers, body = parse_message(sys.stdin.buffer.read())
    try:
        verify(secret, headers, body, int(time.time()), tolerance)
    except (BadSignature, ValueError) as exc:
        typer.secho(f"FAILED: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    typer.echo(f"signature OK: {headers['webhook-id']}")


@webhooks_app.command("test")
def test_command(
    endpoint: Annotated[int, typer.Option(help="The endpoint's id")],
) -> None:
    """Send the endpoint a signed `ping` now and say how its receiver answered."""
    settings = settings_or_exit()

    async def run(database: Database) -> DeliveryView:
        async with database.sessions() as session:
            delivery_id = await deliveries.ping(session, endpoint, actor=CLI_ACTOR)
        async with sending.client() as client:
            await deliver(database, settings, client, only=delivery_id)
        async with database.sessions() as session:
            return await deliveries.view(session, delivery_id)

    sent = with_database(settings, run)
    answer = sent.last_error or f"HTTP {sent.last_status_code}"
    if sent.status != DELIVERED:
        typer.secho(f"FAILED: {sent.message_id}: {answer}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)
    typer.echo(f"delivered {sent.message_id}: {answer}")
