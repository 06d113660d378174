"""The API reference at `/docs` loads nothing from elsewhere: Swagger UI is the frontend
build's copy of the swagger-ui-dist package, so the page works offline. Its rendering
in a real browser with every other host cut off: tests/frontend/test_api_docs_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from billing.core.config import Settings
from billing.http import frontend
from billing.http.api_docs import SWAGGER_UI_FILES
from billing.http.app import create_app
from tests.conftest import asgi_client

PREFIX = "/billing"
LOADED = re.compile(r"""(?:src|href)="([^"]*)"|url: '([^']*)'""")  # tags, Swagger UI's start
CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
    ".json": ("application/json",),
}


def loaded_urls(page: str) -> list[str]:
    """What the page makes the browser fetch: scripts, stylesheet, icon, OpenAPI document."""
    return [src or url for src, url in LOADED.findall(page)]


def assert_offline(page: httpx.Response) -> None:
    """No URL of any other host, nor a scheme-relative one, anywhere in the page."""
    assert not re.search(r"\bhttps?:|//[\w.-]+\.\w", page.text), page.text


def assert_serves(answer: httpx.Response, url: str) -> None:
    assert answer.status_code == 200, url
    content_type = answer.headers["content-type"].split(";")[0]
    assert content_type in CONTENT_TYPES[Path(url).suffix], (url, content_type)


@pytest.fixture
async def prefixed(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """The app behind a proxy's prefix, with a stand-in build holding Swagger UI."""
    dist = tmp_path / "dist"
    (dist / "assets" / "swagger-ui").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=root></div>")
    for name in SWAGGER_UI_FILES:
        (dist / "assets" / "swagger-ui" / name).write_text("/* stand-in */")
    monkeypatch.setattr(frontend, "FRONTEND_DIST", dist)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, root_path=PREFIX)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:
        yield http
    await app.state.database.dispose()


@pytest.mark.skipif(
    not frontend.is_built(frontend.FRONTEND_DIST),
    reason="frontend/dist is missing: build the frontend (make install)",
)
async def test_the_api_reference_loads_only_the_services_own_files(
    client: httpx.AsyncClient,
) -> None:
    """With the real build: every URL of the page is the service's, and answers with its
    type (under `X-Content-Type-Options: nosniff` a browser runs nothing else)."""
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>Billing - API reference</title>" in page.text
    assert_offline(page)
    urls = loaded_urls(page.text)
    assert sorted(urls) == sorted(
        [*(f"/assets/swagger-ui/{name}" for name in SWAGGER_UI_FILES), "/openapi.json"]
    )
    for url in urls:
        assert_serves(await client.get(url), url)
    script = await client.get("/assets/swagger-ui/swagger-ui-bundle.js")
    assert b"SwaggerUIBundle" in script.content
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "Billing"


async def test_behind_a_proxys_prefix_every_url_keeps_it(prefixed: httpx.AsyncClient) -> None:
    page = await prefixed.get(f"{PREFIX}/docs")
    assert page.status_code == 200
    assert_offline(page)
    urls = loaded_urls(page.text)
    assert len(urls) == len(SWAGGER_UI_FILES) + 1
    for url in urls:
        assert url.startswith(f"{PREFIX}/"), url
        assert_serves(await prefixed.get(url), url)
    # The docs page's own policy there too: its inline start-up script may run.
    assert "'sha256-" in page.headers["content-security-policy"]


async def test_without_a_build_docs_says_how_to_make_one(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rather than a blank page: how to build, and where the OpenAPI document is."""
    monkeypatch.setattr(frontend, "FRONTEND_DIST", tmp_path / "nothing-here")
    async with asgi_client(settings) as http:
        page = await http.get("/docs")
        assert page.status_code == 503
        assert "make install" in page.text
        assert 'href="openapi.json"' in page.text
        assert page.headers["cache-control"] == "no-store"
        assert_offline(page)
        assert (await http.get("/openapi.json")).status_code == 200
        assert (await http.get("/redoc")).status_code == 404
