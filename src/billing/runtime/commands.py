"""What every `billing` subcommand needs: its settings (or a clear exit) and a database
for one piece of work."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer

from billing.core.config import ConfigurationError, Settings, load_settings
from billing.db.engine import Database

T = TypeVar("T")
CLI_ACTOR = "cli"  # the audit actor of admin actions run from this command


@contextmanager
def configuration_or_exit() -> Iterator[None]:
    """A configuration error ends the command with its message and exit status 2."""
    try:
        yield
    except ConfigurationError as exc:
        typer.secho(f"configuration error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc


def settings_or_exit(kind: type[Settings] = Settings) -> Settings:
    with configuration_or_exit():
        return load_settings(kind)


def with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        database = Database(settings)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(run())
