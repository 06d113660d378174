"""deploy/compose.yaml: the stack the issue asks for, wired to files that exist, with
secrets that `deploy/secrets/generate.sh` makes and production accepts. (No container
engine runs here: the file is read, not started.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from billing.core.config import Settings, load_settings
from billing.runtime.cli import app
from tests.deploy.conftest import DEPLOY, documents

(COMPOSE,) = documents(DEPLOY / "compose.yaml")
SERVICES: dict[str, Any] = COMPOSE["services"]
BILLING = ("migrate", "server", "worker")
STRIPE = {"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_PUBLISHABLE_KEY": "pk_test_x"}
STRIPE |= {"STRIPE_WEBHOOK_SECRET": "whsec_x"}


def test_the_stack_has_each_part_two_servers_and_two_workers() -> None:
    assert {"postgres", "pgbouncer", "redis", "prometheus", *BILLING} <= set(SERVICES)
    assert SERVICES["server"]["deploy"]["replicas"] == 2
    assert SERVICES["worker"]["deploy"]["replicas"] == 2


@pytest.mark.parametrize("name", BILLING)
def test_billing_services_run_real_commands_with_settings_that_exist(name: str) -> None:
    service = SERVICES[name]
    result = CliRunner().invoke(app, [*service["command"], "--help"])
    assert result.exit_code == 0, result.output
    assert set(service["environment"]) <= set(Settings.model_fields)
    assert set(service["secrets"]) <= set(Settings.model_fields)
    assert service["environment"]["BILLING_ENV"] == "production"


def test_every_mounted_file_and_built_context_exists() -> None:
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source
        build = service.get("build")
        if isinstance(build, dict):
            assert (DEPLOY / build["context"] / build["dockerfile"]).exists()
        elif build is not None:
            assert (DEPLOY / build / "Containerfile").exists()
    for secret in COMPOSE["secrets"].values():
        assert secret["file"].startswith("./secrets/")


def test_prometheus_loads_the_shipped_alert_rules() -> None:
    (config,) = documents(DEPLOY / "prometheus" / "prometheus.yml")
    mounts = SERVICES["prometheus"]["volumes"]
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts
    assert config["rule_files"] == ["alerts.yml"]
    scraped = {job["dns_sd_configs"][0]["names"][0] for job in config["scrape_configs"]}
    assert scraped == {"server", "worker"}


def test_generated_secrets_start_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "generate.sh"
    script.write_text((DEPLOY / "secrets" / "generate.sh").read_text())
    env = {**os.environ, **STRIPE}
    subprocess.run(["bash", str(script)], env=env, check=True, capture_output=True)
    for name in os.environ:
        if name.startswith(("BILLING_", "STRIPE_", "DATABASE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    for name, value in SERVICES["server"]["environment"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BILLING_SECRETS_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.BILLING_ENV == "production"
    assert settings.DATABASE_URL.startswith("postgresql+asyncpg://billing:")
    assert settings.DATABASE_URL.endswith("@pgbouncer:6432/billing")
    assert (tmp_path / "PGBOUNCER_USERLIST").read_text().startswith('"billing" "')


def test_the_generator_refuses_to_run_without_the_stripe_keys(tmp_path: Path) -> None:
    script = tmp_path / "generate.sh"
    script.write_text((DEPLOY / "secrets" / "generate.sh").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert "set STRIPE_SECRET_KEY" in done.stderr
