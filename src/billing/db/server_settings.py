"""The settings every PostgreSQL connection of the service runs with.

Directly connected, the service sets them when it opens a connection. Behind PgBouncer
in transaction pooling it cannot: each transaction runs on whichever server connection is
free, and PgBouncer refuses startup settings it does not know. There PgBouncer sets them
(`connect_query` in pgbouncer.ini) and the service checks that they hold: a wallet
trigger reads the default low-balance threshold, and a commit must not return before
it is durable.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.core.config import Settings

# The default low-balance threshold: read by the wallet trigger on PostgreSQL and, from
# the session's info, by `credits.watch` on SQLite.
LOW_BALANCE_THRESHOLD = "billing.low_balance_threshold"
# Read back behind PgBouncer: `jit` is left out, it only costs time.
CHECKED = ("synchronous_commit", LOW_BALANCE_THRESHOLD)


def wanted(settings: Settings) -> dict[str, str]:
    """Name to value; a threshold left unset is the empty string PostgreSQL reports."""
    threshold = settings.BILLING_LOW_BALANCE_THRESHOLD
    return {
        "synchronous_commit": "on",
        "jit": "off",
        LOW_BALANCE_THRESHOLD: "" if threshold is None else str(threshold),
    }


def startup_settings(settings: Settings) -> dict[str, str]:
    """What a direct connection asks for when it opens."""
    return {name: value for name, value in wanted(settings).items() if value}


async def problem(connection: AsyncConnection, settings: Settings) -> str | None:
    """Why the server connection behind PgBouncer does not run as the service needs, or
    None when it does (always, directly connected: the service set them itself)."""
    if not settings.DATABASE_PGBOUNCER:
        return None
    reads = ", ".join(f"coalesce(current_setting('{name}', true), '')" for name in CHECKED)
    found = (await connection.execute(text(f"SELECT {reads}"))).one()
    expected = wanted(settings)
    differing = [
        f"{name} is {value or 'unset'}, not {expected[name] or 'unset'}"
        for name, value in zip(CHECKED, found, strict=True)
        if value != expected[name]
    ]
    if not differing:
        return None
    return (
        "Behind PgBouncer, the server connections' settings differ from the service's: "
        + "; ".join(differing)
        + ". Set them in pgbouncer.ini's connect_query (docs/operations.md, PgBouncer)."
    )
