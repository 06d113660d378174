"""What the browser tests of the web app share: a page with nobody signed in that fails
its test on any Content-Security-Policy refusal, a folder for its screenshots, and the
two widths every page is looked at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


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
