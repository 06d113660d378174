"""The `billing` command, run in-process with Typer's runner against real databases."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from billing.core.config import DEV_JWT_SECRET, PRODUCTION_SECRETS, Settings
from billing.credits.accounts import ADMIN_GRANT, SPEND
from billing.credits.service import post
from billing.credits.transfers import Transfer
from billing.db.engine import Database
from billing.http.app import create_app
from billing.runtime.cli import app
from tests.support.server import free_port

runner = CliRunner()


def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "BILLING_DATA_DIR": str(tmp_path),
        "BILLING_ENV": "development",
    }


def run(coroutine: object) -> object:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'new.db'}",
        "BILLING_ENV": "development",
    }
    code, out, _ = invoke(env, "migrate")
    assert code == 0, out
    code, out, _ = invoke(env, "verify-ledger")
    assert code == 0
    assert "ledger OK" in out


def test_token_prints_a_signed_jwt(env: dict[str, str]) -> None:
    code, out, _ = invoke(env, "token", "--user", "42")
    assert code == 0
    claims = jwt.decode(out.strip(), DEV_JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "42"
    assert claims["role"] == "user"
    code, out, _ = invoke(env, "token", "--user", "1", "--admin")
    assert jwt.decode(out.strip(), DEV_JWT_SECRET, algorithms=["HS256"])["role"] == "admin"


def test_api_key_create_prints_a_working_key_and_stores_only_its_hash(
    env: dict[str, str], settings: Settings
) -> None:
    code, out, _ = invoke(env, "api-key", "create", "--role", "service", "--name", "worker")
    assert code == 0, out
    key = out.strip()
    assert key.startswith("bk_")

    async def check() -> None:
        application = create_app(settings)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/api/financial/credits/5", headers={"X-API-Key": key})
            assert response.status_code == 200
        database: Database = application.state.database
        async with database.engine.connect() as connection:
            stored = (await connection.execute(text("SELECT * FROM api_keys"))).all()
        await database.dispose()
        assert len(stored) == 1
        assert key not in repr(stored)

    run(check())


def test_api_key_create_refuses_the_user_role(env: dict[str, str]) -> None:
    code, _, err = invoke(env, "api-key", "create", "--role", "user", "--name", "x")
    assert code == 2
    assert "service or admin" in err


@pytest.mark.ledger_tampered
def test_verify_ledger_names_a_broken_invariant(env: dict[str, str], settings: Settings) -> None:
    async def post_and_tamper() -> None:
        database = Database(settings)
        await post(database, Transfer(ADMIN_GRANT, 5, 100, actor="test"))
        await post(database, Transfer(SPEND, 5, 40, actor="test"))
        async with database.engine.begin() as connection:
            await connection.execute(
                text("UPDATE credit_accounts SET balance = balance + 5 WHERE user_id = 5")
            )
        await database.dispose()

    code, out, _ = invoke(env, "verify-ledger")
    assert code == 0
    run(post_and_tamper())
    code, out, err = invoke(env, "verify-ledger")
    assert code == 1
    assert "checked 2 transactions and 1 wallets" in out
    assert "every wallet's balance equals the sum of its entries" in err


def test_production_refuses_to_serve_without_secrets(tmp_path: Path) -> None:
    code, _, err = invoke({"BILLING_ENV": "production"}, "serve")
    assert code == 2
    assert "BILLING_JWT_SECRET" in err
    assert "STRIPE_WEBHOOK_SECRET" in err


def test_a_bare_serve_exits_naming_what_production_needs(tmp_path: Path) -> None:
    """The real command with nothing configured: production (the default) refuses to
    start, with one clean message and no traceback, instead of serving a service that
    anyone could administer with the public development secret."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "billing", "serve", "--port", str(port)],
        env=clean,
        cwd=tmp_path,  # no stray .env
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("billing serve started with nothing configured")
    assert process.returncode != 0
    assert "Traceback" not in out + err
    assert err.startswith("configuration error: BILLING_ENV=production refuses to start without")
    for name in [*PRODUCTION_SECRETS, "BILLING_ALLOWED_REDIRECT_HOSTS", "BILLING_ENV=development"]:
        assert name in err
    assert len(err.strip().splitlines()) == 1


def test_sandbox_runs_the_stripe_sandbox_as_a_process(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "billing",
            "sandbox",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/_config/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, "billing sandbox exited"
                assert time.monotonic() < deadline, "the sandbox did not answer"
                time.sleep(0.1)
        assert health.status_code == 200
        created = httpx.post(
            f"http://127.0.0.1:{port}/v1/customers",
            data={"email": "cli@example.com"},
            auth=("sk_test_cli", ""),
            timeout=5,
        )
        assert created.status_code == 200
        assert created.json()["object"] == "customer"
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert (tmp_path / "store.pickle").exists()
    with pytest.raises(httpx.TransportError):  # SIGTERM stopped the sandbox itself too
        httpx.get(f"http://127.0.0.1:{port}/_config/health", timeout=1)
