"""The API reference (`/docs`) in a real browser, offline: Debian's Chromium against
`billing demo`, with every request to another host than the service refused, as on a
machine without internet. Swagger UI must render the API's operations all the same,
from the service's own files, under the service's Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, expect

from billing.http import frontend
from tests.runtime.test_demo import Demo
from tests.support.browser import NEEDS_CHROMIUM, chromium
from tests.support.screens import DESKTOP

pytestmark = [
    NEEDS_CHROMIUM,
    pytest.mark.skipif(
        not frontend.is_built(frontend.FRONTEND_DIST),
        reason="frontend/dist is missing: build the frontend (make install)",
    ),
]


class Offline:
    """Lets through requests to the service only; remembers what it refused, and what
    the Content-Security-Policy refused (Chromium reports each refusal on the console)."""

    def __init__(self, page: Page, base: str) -> None:
        self.host = urlsplit(base).netloc
        self.served: list[str] = []
        self.cut_off: list[str] = []
        self.refused_by_policy: list[str] = []
        page.route("**/*", self.route)
        page.on("console", self.console)

    def route(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == self.host:
            self.served.append(url)
            route.continue_()
        else:
            self.cut_off.append(url)
            route.abort("internetdisconnected")

    def console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.refused_by_policy.append(message.text)


@pytest.fixture
def page(demo: Demo) -> Iterator[Page]:
    with chromium() as browser:
        context = browser.new_context(viewport=DESKTOP)
        opened = context.new_page()
        opened.set_default_timeout(15_000)
        yield opened


def test_the_api_reference_renders_offline(demo: Demo, page: Page, tmp_path: Path) -> None:
    offline = Offline(page, demo.base)
    page.goto(f"{demo.base}/docs")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Billing")
    operation = page.locator(".opblock-summary-path", has_text="/api/financial/credits/{user_id}")
    expect(operation.first).to_be_visible()
    assert page.locator(".swagger-ui .opblock").count() > 10
    # Opening an operation shows its parameters: Swagger UI runs, not just draws.
    operation.first.click()
    expect(page.locator(".swagger-ui .parameters-container").first).to_be_visible()
    page.screenshot(path=tmp_path / "api-docs.png", full_page=True)

    assert offline.cut_off == []
    assert offline.refused_by_policy == []
    paths = {urlsplit(url).path for url in offline.served}
    assert {"/docs", "/openapi.json", "/assets/swagger-ui/swagger-ui-bundle.js"} <= paths
    assert "/assets/swagger-ui/swagger-ui.css" in paths
