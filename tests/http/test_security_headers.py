"""Security headers on every response: the Content-Security-Policy (Stripe's origins only,
the sandbox's offline), no framing, no MIME sniffing, no full referrer to other sites."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr

from billing.core.config import Settings
from billing.http import frontend
from billing.http.api_docs import SWAGGER_UI_FILES
from billing.http.app import create_app
from tests.conftest import WEBHOOK_SECRET, Credentials
from tests.support.credits import add, spend
from tests.support.stripe_events import sign, stripe_event

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}
STRIPE_POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'", "https://js.stripe.com"},
    "frame-src": {"https://js.stripe.com", "https://hooks.stripe.com"},
    "connect-src": {"'self'", "https://api.stripe.com"},
    "img-src": {"'self'", "data:", "https://*.stripe.com"},
    "style-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}


def policy(response: httpx.Response) -> dict[str, set[str]]:
    """The response's one Content-Security-Policy, directive -> sources."""
    [header] = response.headers.get_list("content-security-policy")
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: set(sources) for name, *sources in directives}


def assert_protected(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get_list(name) == [value], (name, response.request.url)
    assert policy(response)["frame-ancestors"] == {"'none'"}


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "dist"
    (dist / "assets" / "swagger-ui").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=root></div>")
    (dist / "assets" / "index-abc.js").write_text("console.log('app')")
    for name in SWAGGER_UI_FILES:  # the API reference's, at /docs
        (dist / "assets" / "swagger-ui" / name).write_text("")
    monkeypatch.setattr(frontend, "FRONTEND_DIST", dist)


@pytest.fixture
async def http(settings: Settings, built: None) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a webhook secret, a tight rate limit, and a route that fails."""
    app = create_app(
        settings.model_copy(
            update={
                "STRIPE_WEBHOOK_SECRET": SecretStr(WEBHOOK_SECRET),
                "BILLING_RATE_LIMIT": "30/minute",
            }
        )
    )

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("unhandled")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as client:
        yield client
    await app.state.database.dispose()


async def test_every_response_carries_the_security_headers(
    http: httpx.AsyncClient, creds: Credentials
) -> None:
    payload = stripe_event("price.created")
    signed = {"Stripe-Signature": sign(payload, WEBHOOK_SECRET)}
    answers = [
        await http.get("/"),
        await http.get("/assets/index-abc.js"),
        await http.get("/healthz"),
        await http.get("/metrics"),
        await http.get("/api/stripe/config"),
        await http.get("/openapi.json"),
        await http.get("/no/such/path"),
        await http.delete("/healthz"),
        await http.get("/api/financial/credits/5"),
        await add(http, creds.admin(), 5, 100),
        await spend(http, creds.bearer(5), 5, 10),  # the spend lane
        await spend(http, creds.bearer(5), 5, 10_000),
        await spend(http, creds.bearer(5), 5, -1),
        await http.post("/api/stripe/webhook", content=payload, headers=signed),  # its lane
        await http.post("/api/stripe/webhook", content=payload, headers={"Stripe-Signature": "x"}),
        await http.get("/boom"),
    ]
    assert [answer.status_code for answer in answers] == [
        *(200, 200, 200, 200, 200, 200, 404, 405, 401),
        *(200, 200, 402, 422, 200, 400, 500),
    ]
    while (limited := await http.get("/api/stripe/config")).status_code != 429:
        answers.append(limited)
    answers.append(limited)
    for answer in answers:
        assert_protected(answer)
        assert policy(answer) == STRIPE_POLICY


async def test_the_policy_forbids_inline_and_foreign_scripts(http: httpx.AsyncClient) -> None:
    page = await http.get("/")
    sources = policy(page)
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"} & sources["script-src"]
    assert "'unsafe-inline'" not in sources["style-src"]
    assert page.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("base", ["http://127.0.0.1:8420", "http://127.0.0.1:8420/"])
async def test_with_the_sandbox_the_policy_allows_its_origin(settings: Settings, base: str) -> None:
    """Offline, Stripe.js is the sandbox's (GET /api/stripe/config says where): the page
    may load it, frame it and call the sandbox's API, and nothing else is added."""
    app = create_app(settings.model_copy(update={"STRIPE_API_BASE": base}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as client:
        config = await client.get("/api/stripe/config")
    await app.state.database.dispose()
    script = urlsplit(config.json()["stripe_js_url"])
    sandbox = f"{script.scheme}://{script.netloc}"
    assert sandbox == "http://127.0.0.1:8420"
    widened = ("script-src", "frame-src", "connect-src")
    assert policy(config) == {
        name: sources | {sandbox} if name in widened else sources
        for name, sources in STRIPE_POLICY.items()
    }


INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


async def test_the_api_reference_may_run_exactly_its_own_script(http: httpx.AsyncClient) -> None:
    """The API reference (Swagger UI, the service's own copy) starts with an inline script:
    its policy allows that script by hash, no other inline script, nothing from elsewhere."""
    page = await http.get("/docs")
    assert page.status_code == 200
    assert_protected(page)
    sources = policy(page)
    [script] = INLINE_SCRIPT.findall(page.text)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert sources["script-src"] == {"'self'", f"'sha256-{digest}'"}
    assert sources["default-src"] == {"'none'"}
    assert sources["connect-src"] == {"'self'"}  # the OpenAPI document, "try it out"
    assert not any(":" in source for name in sources for source in sources[name] - {"data:"})
    for path in ("/redoc", "/docs/oauth2-redirect"):  # FastAPI's, from a CDN: gone
        assert (await http.get(path)).status_code == 404
