"""Hypothesis examples run one after another against one real database: each example's
`body` gets the database and its drawn value, in one event loop for the whole run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.strategies import SearchStrategy

from billing.core.config import Settings
from billing.db.engine import Database

Drawn = TypeVar("Drawn")


def run_examples(
    settings: Settings,
    values: SearchStrategy[Drawn],
    body: Callable[[Database, Drawn], Awaitable[None]],
    examples: int,
) -> None:
    runner = asyncio.Runner()
    database = Database(settings)

    @given(drawn=values)
    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def each(drawn: Drawn) -> None:
        runner.run(body(database, drawn))

    try:
        each()
    finally:
        runner.run(database.dispose())
        runner.close()
