"""Settings: production by default, refusing to run without secrets; development only
when asked for, and never with a live Stripe key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet

from billing.core.config import (
    DEV_JWT_SECRET,
    PRODUCTION_SECRETS,
    TWO_DECIMAL_CURRENCIES,
    ConfigurationError,
    Settings,
    load_settings,
)

SECRETS = {
    "BILLING_JWT_SECRET": "x" * 40,
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
    "BILLING_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}
PRODUCTION = {**SECRETS, "BILLING_ALLOWED_REDIRECT_HOSTS": "app.example.com"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [
        *PRODUCTION,
        "BILLING_ENV",
        "DATABASE_URL",
        "DATABASE_READ_URL",
        "BILLING_SECRETS_DIR",
        "BILLING_TOPUP_CURRENCIES",
    ]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


@pytest.fixture
def development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_ENV", "development")


def test_production_is_the_default_and_names_what_it_needs() -> None:
    """An operator who forgets BILLING_ENV gets a service that refuses to start, never one
    signing tokens with the public development secret."""
    assert Settings.model_fields["BILLING_ENV"].default == "production"
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    message = str(error.value)
    for name in [*PRODUCTION_SECRETS, "BILLING_ALLOWED_REDIRECT_HOSTS"]:
        assert name in message
    assert "BILLING_ENV=development" in message  # the way to a local run
    assert "Value error" not in message  # pydantic's wording stays out of it


@pytest.mark.usefixtures("development")
def test_development_runs_with_no_other_configuration() -> None:
    settings = load_settings()
    assert settings.BILLING_ENV == "development"
    assert settings.is_sqlite
    assert settings.run_worker
    assert settings.jwt_secret
    assert settings.STRIPE_WEBHOOK_TOLERANCE == 300


@pytest.mark.parametrize("key", ["sk_live_51abcdef", "rk_live_51abcdef"])
def test_development_refuses_a_live_stripe_key(
    monkeypatch: pytest.MonkeyPatch, development: None, key: str
) -> None:
    """Development signs tokens with a public secret: with a live key anyone could spend
    real money through it."""
    monkeypatch.setenv("STRIPE_SECRET_KEY", key)
    with pytest.raises(ConfigurationError, match="live Stripe key") as error:
        load_settings()
    assert key not in str(error.value)
    assert "BILLING_ENV=production" in str(error.value)


@pytest.mark.parametrize("key", ["sk_test_51abcdef", "rk_test_51abcdef"])
def test_development_takes_a_test_stripe_key(
    monkeypatch: pytest.MonkeyPatch, development: None, key: str
) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", key)
    secret = load_settings().STRIPE_SECRET_KEY
    assert secret is not None
    assert secret.get_secret_value() == key


def test_production_names_every_missing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_ENV", "production")
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    for name in [*PRODUCTION_SECRETS, "BILLING_ALLOWED_REDIRECT_HOSTS"]:
        assert name in str(error.value)


def test_a_refusal_never_echoes_the_secrets_it_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_ENV", "production")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BILLING_ENCRYPTION_KEYS", "not-a-fernet-key-but-still-secret")
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    for value in [*SECRETS.values(), "not-a-fernet-key-but-still-secret"]:
        assert value not in str(error.value)


@pytest.mark.parametrize("missing", PRODUCTION_SECRETS)
def test_production_refuses_each_missing_secret(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setenv("BILLING_ENV", "production")
    for name, value in PRODUCTION.items():
        if name != missing:
            monkeypatch.setenv(name, value)
    monkeypatch.setenv(missing, "  ")
    with pytest.raises(ConfigurationError, match=missing):
        load_settings()


@pytest.mark.parametrize("hosts", [None, "", " , "])
def test_production_refuses_to_trust_the_host_header_for_redirects(
    monkeypatch: pytest.MonkeyPatch, hosts: str | None
) -> None:
    """Without allowed hosts a redirect could only be checked against the request's own
    Host header, which the caller chooses: production does not start."""
    monkeypatch.setenv("BILLING_ENV", "production")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    if hosts is not None:
        monkeypatch.setenv("BILLING_ALLOWED_REDIRECT_HOSTS", hosts)
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    missing = str(error.value).partition("refuses to start without: ")[2].partition(" [")[0]
    assert missing.startswith("BILLING_ALLOWED_REDIRECT_HOSTS (the hosts Stripe may send")
    assert not any(name in missing for name in PRODUCTION_SECRETS)  # only what is missing


def test_production_refuses_a_short_jwt_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_ENV", "production")
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BILLING_JWT_SECRET", "short")
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        load_settings()


def test_production_starts_with_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_ENV", "production")
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.allowed_redirect_hosts == {"app.example.com"}
    assert settings.jwt_secret == SECRETS["BILLING_JWT_SECRET"]
    assert settings.encryption_keys() == [SECRETS["BILLING_ENCRYPTION_KEYS"]]
    assert "sk_live_example" not in repr(settings)


def test_development_generates_an_encryption_key_once(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, BILLING_ENV="development", BILLING_DATA_DIR=tmp_path / "data"
    )
    keys = settings.encryption_keys()
    assert keys == settings.encryption_keys()
    key_file = tmp_path / "data" / "encryption.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    token = MultiFernet([Fernet(k) for k in keys]).encrypt(b"jane@example.com")
    assert MultiFernet([Fernet(k) for k in keys]).decrypt(token) == b"jane@example.com"


def test_the_postgres_default_runs_a_separate_worker(development: None) -> None:
    settings = Settings(_env_file=None, DATABASE_URL="postgresql+asyncpg://db/billing")
    assert not settings.run_worker
    assert Settings(
        _env_file=None, DATABASE_URL="postgresql+asyncpg://db/b", BILLING_RUN_WORKER=True
    ).run_worker


def test_allowed_redirect_hosts_are_normalised(development: None) -> None:
    settings = Settings(_env_file=None, BILLING_ALLOWED_REDIRECT_HOSTS=" App.Example.com, ,x.io")
    assert settings.allowed_redirect_hosts == frozenset({"app.example.com", "x.io"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BILLING_JWT_SECRET", DEV_JWT_SECRET, "not the development value"),
        ("BILLING_ENCRYPTION_KEYS", "not-a-fernet-key", "not a Fernet key"),
    ],
)
def test_production_refuses_development_or_malformed_secrets(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv("BILLING_ENV", "production")
    for secret, good in PRODUCTION.items():
        monkeypatch.setenv(secret, good)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=message):
        load_settings()


def test_top_ups_default_to_usd_and_take_the_configured_currencies(
    monkeypatch: pytest.MonkeyPatch, development: None
) -> None:
    assert load_settings().topup_currencies == {"usd"}
    monkeypatch.setenv("BILLING_TOPUP_CURRENCIES", " eur,usd , gbp")
    assert load_settings().topup_currencies == {"eur", "usd", "gbp"}


@pytest.mark.parametrize("value", ["USD", "usd,jpy", "kwd", "huf", "xyz", "", " , ", "usd;eur"])
def test_top_up_currencies_must_be_lowercase_two_decimal_codes(
    monkeypatch: pytest.MonkeyPatch, development: None, value: str
) -> None:
    """A minor unit worth 100 times more (jpy) or 10 times less (kwd) than a cent would be
    priced wrong by one credits-per-unit rate: such codes stop the service at startup."""
    monkeypatch.setenv("BILLING_TOPUP_CURRENCIES", value)
    with pytest.raises(ConfigurationError, match="BILLING_TOPUP_CURRENCIES") as error:
        load_settings()
    assert "usd" in str(error.value)  # the message lists what is accepted
    assert {"jpy", "kwd", "huf"}.isdisjoint(TWO_DECIMAL_CURRENCIES)


def test_plain_stripe_metadata_is_never_read_unless_a_cutoff_is_set(development: None) -> None:
    assert load_settings().BILLING_LEGACY_METADATA_BEFORE is None


@pytest.mark.parametrize(
    "value",
    ["2026-05-01T12:00:00Z", "2026-05-01T14:00:00+02:00", "2026-05-01T12:00:00", "1777636800"],
)
def test_the_metadata_cutoff_is_a_utc_time_or_unix_seconds(
    monkeypatch: pytest.MonkeyPatch, development: None, value: str
) -> None:
    """A time written without an offset is UTC, as the documentation says."""
    monkeypatch.setenv("BILLING_LEGACY_METADATA_BEFORE", value)
    cutoff = load_settings().BILLING_LEGACY_METADATA_BEFORE
    assert cutoff is not None
    assert (cutoff, cutoff.utcoffset()) == (datetime(2026, 5, 1, 12, tzinfo=UTC), timedelta(0))


def test_a_malformed_metadata_cutoff_stops_the_service(
    monkeypatch: pytest.MonkeyPatch, development: None
) -> None:
    monkeypatch.setenv("BILLING_LEGACY_METADATA_BEFORE", "last tuesday")
    with pytest.raises(ConfigurationError, match="BILLING_LEGACY_METADATA_BEFORE"):
        load_settings()


@pytest.mark.usefixtures("development")
@pytest.mark.parametrize(
    ("primary", "replica"),
    [
        ("sqlite+aiosqlite:///./billing.db", "postgresql+asyncpg://r/billing"),
        ("postgresql+asyncpg://p/billing", "sqlite+aiosqlite:///./copy.db"),
    ],
)
def test_a_read_replica_is_postgresql_beside_postgresql(
    monkeypatch: pytest.MonkeyPatch, primary: str, replica: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", primary)
    monkeypatch.setenv("DATABASE_READ_URL", replica)
    with pytest.raises(ConfigurationError, match="DATABASE_READ_URL is a PostgreSQL replica"):
        load_settings()


def test_production_reads_its_secrets_from_files_in_the_secrets_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As Kubernetes and Compose mount secrets: one file per setting, named after it."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name, value in PRODUCTION.items():
        (secrets / name).write_text(value + "\n")
    monkeypatch.setenv("BILLING_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_from_the_environment")
    settings = load_settings()
    assert settings.jwt_secret == PRODUCTION["BILLING_JWT_SECRET"]
    assert settings.allowed_redirect_hosts == {"app.example.com"}
    assert settings.webhook_secrets == ["whsec_from_the_environment"]  # the environment wins
