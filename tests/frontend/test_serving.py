"""The built web app at `/` next to the API, and the development-only sign-in."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from billing.core.config import Settings
from billing.http import frontend
from billing.http.app import create_app
from tests.conftest import asgi_client

INDEX = "<!doctype html><title>Billing</title><div id=root></div>"


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in build of the frontend where the service looks for it."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "index-abc.js").write_text("console.log('app')")
    (tmp_path / "secret.txt").write_text("not for the web")
    monkeypatch.setattr(frontend, "FRONTEND_DIST", dist)
    return dist


async def test_the_app_is_served_at_root_and_api_routes_keep_priority(
    settings: Settings, built: Path
) -> None:
    async with asgi_client(settings) as http:
        page = await http.get("/")
        assert page.status_code == 200
        assert page.text == INDEX
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-cache"
        script = await http.get("/assets/index-abc.js")
        assert script.status_code == 200
        assert script.text == "console.log('app')"

        assert (await http.get("/api/stripe/config")).json()["stripe_js_url"]
        unknown = await http.get("/api/no-such-route")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        wrong_method = await http.get("/api/stripe/webhook")
        assert wrong_method.status_code == 405
        assert (await http.get("/credits")).status_code == 404  # the app routes by #fragment
        assert (await http.post("/")).status_code == 405
        assert (await http.get("/assets/../secret.txt")).status_code == 404
        assert (await http.get("/assets/%2e%2e/secret.txt")).status_code == 404


async def test_without_a_build_root_says_how_to_build_it(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frontend, "FRONTEND_DIST", tmp_path / "nothing-here")
    async with asgi_client(settings) as http:
        page = await http.get("/")
        assert page.status_code == 503
        assert "make install" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert (await http.get("/assets/index.js")).status_code == 404
        assert (await http.get("/healthz")).status_code == 200


async def test_development_sign_in_gives_tokens_the_api_accepts(client: httpx.AsyncClient) -> None:
    user = await client.post("/api/dev/sign-in", json={"user_id": 5, "role": "user"})
    assert user.status_code == 200, user.text
    assert user.json()["user_id"] == 5
    assert user.json()["role"] == "user"
    headers = {"Authorization": f"Bearer {user.json()['token']}"}
    assert (await client.get("/api/financial/credits/5", headers=headers)).status_code == 200
    assert (await client.get("/api/financial/credits/6", headers=headers)).status_code == 403

    admin = await client.post("/api/dev/sign-in", json={"user_id": 1, "role": "admin"})
    headers = {"Authorization": f"Bearer {admin.json()['token']}"}
    assert (await client.get("/api/financial/credits/6", headers=headers)).status_code == 200
    assert (await client.get("/api/admin/webhooks", headers=headers)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": 5, "role": "service"},
        {"user_id": "5", "role": "user"},
        {"user_id": 0},
        {"user_id": 5, "role": "user", "scope": "all"},
    ],
)
async def test_development_sign_in_refuses_what_is_not_a_user_or_the_admin(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    answer = await client.post("/api/dev/sign-in", json=body)
    assert answer.status_code == 422
    assert answer.json()["code"] == "validation_error"


async def test_development_sign_in_exists_only_with_the_public_development_secret(
    settings: Settings,
) -> None:
    async def answers(**values: object) -> int:
        async with asgi_client(settings.model_copy(update=values)) as http:
            body = {"user_id": 1, "role": "admin"}
            return (await http.post("/api/dev/sign-in", json=body)).status_code

    assert await answers() == 200
    assert await answers(BILLING_JWT_SECRET=SecretStr("x" * 40)) == 404
    production = {
        "BILLING_ENV": "production",
        "BILLING_JWT_SECRET": SecretStr("y" * 40),
        "STRIPE_SECRET_KEY": SecretStr("sk_live_x"),
        "STRIPE_WEBHOOK_SECRET": SecretStr("whsec_x"),
        "BILLING_ENCRYPTION_KEYS": SecretStr("Zt2nVnqyjTTT4yzgpcJnXbFt2-hHFqV0HIXwTWZtN4E="),
    }
    assert await answers(**production) == 404
    openapi = create_app(settings).openapi()
    assert "/api/dev/sign-in" not in openapi["paths"]  # the generated types never vary


@pytest.mark.parametrize(
    ("peer", "status"),
    [
        ("127.0.0.1", 200),
        ("127.20.30.40", 200),
        ("::1", 200),
        ("203.0.113.7", 404),
        ("10.1.2.3", 404),
        ("::ffff:203.0.113.7", 404),
        ("2001:db8::1", 404),
        ("not-an-address", 404),
    ],
)
async def test_development_sign_in_answers_only_this_machine(
    settings: Settings, peer: str, status: int
) -> None:
    """Anyone who reaches a development service from elsewhere gets the 404 a disabled
    sign-in gives, never an admin token."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:
        answer = await http.post("/api/dev/sign-in", json={"user_id": 1, "role": "admin"})
    await app.state.database.dispose()
    assert answer.status_code == status, answer.text
    if status == 404:
        assert answer.json()["code"] == "not_found"
        assert "token" not in answer.text
