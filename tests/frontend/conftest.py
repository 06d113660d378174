"""What the browser tests of the web app share: one `billing demo` (service + Stripe
sandbox, SQLite) for each test module, a page with nobody signed in that fails its test
on any Content-Security-Policy refusal, and a folder for its screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.runtime.test_demo import Demo, running_demo
from tests.support.screens import DESKTOP


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """The demo's folder, one for each module (`admin-console-demo0` for
    test_admin_console.py)."""
    name = request.module.__name__.rpartition(".")[2].removeprefix("test_").replace("_", "-")
    return tmp_path_factory.mktemp(f"{name}-demo")


@pytest.fixture(scope="module")
def demo(home: Path) -> Iterator[Demo]:
    with running_demo(home) as running:
        yield running


@pytest.fixture
def shots(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """`<pytest basetemp>/frontend-screenshots/<test>/`."""
    folder = tmp_path_factory.getbasetemp() / "frontend-screenshots" / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context: nobody signed in. The test fails if the service's
    Content-Security-Policy refused anything the page tried (Chromium reports each
    refusal on the console)."""
    context = browser.new_context(viewport=DESKTOP)
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    refused: list[str] = []
    opened.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield opened
    context.close()
    assert refused == []
