"""Fixtures that run `billing-sandbox` as a real subprocess and talk to it with the stripe SDK."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import stripe

from tests.support.sandbox_process import Sandbox, start, stop


@pytest.fixture
def make_sandbox(tmp_path: Path) -> Iterator[Callable[..., Sandbox]]:
    """Start as many sandboxes as a test needs; all stop at its end."""
    started: list[Sandbox] = []

    def make(*extra: str, data_dir: Path | None = None) -> Sandbox:
        sandbox = start(data_dir or tmp_path / f"data{len(started)}", *extra)
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        stop(sandbox)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One sandbox shared by the tests that do not need a fresh one."""
    running = start(tmp_path_factory.mktemp("sandbox"))
    yield running
    stop(running)


@pytest.fixture(scope="session")
def client(sandbox: Sandbox) -> stripe.StripeClient:
    return sandbox.client
