"""Settings: every environment variable the service reads, with safe defaults.

Production is the default and refuses to start while any secret is missing, rather
than falling back to a development value: an operator who forgets BILLING_ENV gets an
error, not a service signing tokens with the public development secret. Development
is asked for (BILLING_ENV=development; `billing demo` asks by itself), then runs with
no other configuration, and refuses a live Stripe key.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from limits import RateLimitItem, parse_many
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "development-only-jwt-secret-never-use-in-production"  # noqa: S105
PRODUCTION_SECRETS = (
    "BILLING_JWT_SECRET",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "BILLING_ENCRYPTION_KEYS",
)
MIN_PRODUCTION_JWT_SECRET_BYTES = 32
# /metrics is not rate-limited, so its token must be too long to guess.
MIN_METRICS_TOKEN_LENGTH = 32
# Prefixes of live secret and restricted keys: real money, never behind the public secret.
LIVE_STRIPE_KEY_PREFIXES = ("sk_live_", "rk_live_")
LOCAL_RUN_HINT = "BILLING_ENV defaults to production; set BILLING_ENV=development for a local run"
# Per caller: a burst allowance and a sustained one (an average of 100 requests a second).
DEFAULT_RATE_LIMIT = "200/second;6000/minute"
# Per source address of the webhook route: Stripe delivers from a few addresses, in bursts.
DEFAULT_WEBHOOK_RATE_LIMIT = "1000/second;30000/minute"
# Currencies whose minor unit is a hundredth of the main one, as Stripe counts them: only
# there does a per-minor-unit credit price mean the same value. Zero-decimal (jpy, krw,
# ...), three-decimal (bhd, jod, kwd, omr, tnd) and Stripe's special cases (huf, isk,
# twd, ugx) are left out.
TWO_DECIMAL_CURRENCIES = frozenset(
    {
        *("aed", "aud", "bgn", "brl", "cad", "chf", "czk", "dkk", "eur", "gbp", "hkd", "ils"),
        *("inr", "mxn", "myr", "nok", "nzd", "php", "pln", "ron", "sek", "sgd", "thb", "usd"),
        "zar",
    }
)


class ConfigurationError(RuntimeError):
    """The settings cannot be used as given; the message says why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=True)

    DATABASE_URL: str = "sqlite+aiosqlite:///./billing.db"
    DATABASE_POOL_SIZE: int = Field(default=20, ge=1, le=500)
    # DATABASE_URL is a PgBouncer in transaction pooling: no statement is kept prepared
    # between transactions, and the per-connection settings are PgBouncer's to set.
    DATABASE_PGBOUNCER: bool = False
    # A streaming replica for reads that may be a little stale (`db/replica.py`); they go to
    # the primary while it is down or further behind than the bound.
    DATABASE_READ_URL: str | None = None
    DATABASE_READ_MAX_LAG_SECONDS: float = Field(default=10.0, ge=0)

    STRIPE_SECRET_KEY: SecretStr | None = None
    STRIPE_PUBLISHABLE_KEY: str | None = None
    STRIPE_WEBHOOK_SECRET: SecretStr | None = None
    STRIPE_API_VERSION: str | None = None
    STRIPE_API_BASE: str | None = None
    STRIPE_WEBHOOK_TOLERANCE: int = Field(default=300, ge=1)
    STRIPE_CUSTOMER_PORTAL_URL: str | None = None
    STRIPE_DEBUG: bool = False

    BILLING_ENV: Literal["development", "production"] = "production"
    # A directory of files named after settings (STRIPE_SECRET_KEY, ...), each holding its
    # value: secrets mounted as files (Kubernetes, Compose) stay out of the environment.
    # Read from the environment only; a variable that is also set there wins.
    BILLING_SECRETS_DIR: Path | None = None
    BILLING_JWT_SECRET: SecretStr | None = None
    BILLING_ENCRYPTION_KEYS: SecretStr | None = None
    BILLING_DATA_DIR: Path = Path(".billing")
    BILLING_CREDITS_PER_UNIT: int = Field(default=1, ge=1)
    # One credit price in minor units cannot suit currencies of different worth, so top-ups
    # take only the currencies the operator priced credits for.
    BILLING_TOPUP_CURRENCIES: str = "usd"
    BILLING_RUN_WORKER: bool | None = None
    REDIS_URL: str | None = None
    BILLING_ALLOWED_REDIRECT_HOSTS: str = ""
    BILLING_TOPUP_MIN: int = Field(default=100, ge=1)
    BILLING_TOPUP_MAX: int = Field(default=1_000_000, ge=1)
    # `credits.low` below this balance, for users who set no threshold of their own.
    BILLING_LOW_BALANCE_THRESHOLD: int | None = Field(default=None, ge=1)
    BILLING_WEBHOOK_RETENTION_DAYS: int = Field(default=365, ge=1)
    BILLING_ALERT_WEBHOOK_URL: str | None = None
    BILLING_RATE_LIMIT: str = DEFAULT_RATE_LIMIT
    BILLING_WEBHOOK_RATE_LIMIT: str = DEFAULT_WEBHOOK_RATE_LIMIT
    BILLING_RATE_LIMIT_KEY_PREFIX: str = Field(default="billing:ratelimit", min_length=1)
    # Scrapers' bearer token for /metrics; unset, /metrics is open in development only.
    BILLING_METRICS_TOKEN: SecretStr | None = None
    # Metadata the service writes on Stripe objects is `billing_`-prefixed; the plain keys an
    # older version wrote count only on objects Stripe created before this time (set it to
    # when this version was deployed). Unset, they never do: another integration's plain
    # `user_id` must not link its customers to platform users.
    BILLING_LEGACY_METADATA_BEFORE: datetime | None = None

    @field_validator("BILLING_METRICS_TOKEN")
    @classmethod
    def _unguessable_metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < MIN_METRICS_TOKEN_LENGTH:
            raise ValueError(
                f"must be at least {MIN_METRICS_TOKEN_LENGTH} characters: /metrics is not"
                " rate-limited, so a short token could be guessed (`openssl rand -hex 32`)"
            )
        return value

    @field_validator("BILLING_LEGACY_METADATA_BEFORE")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        """ISO 8601 or unix seconds; a time written without an offset is UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @field_validator("BILLING_RATE_LIMIT", "BILLING_WEBHOOK_RATE_LIMIT")
    @classmethod
    def _valid_rate_limit(cls, value: str) -> str:
        parse_rate_limits(value)
        return value

    @field_validator("BILLING_TOPUP_CURRENCIES")
    @classmethod
    def _valid_topup_currencies(cls, value: str) -> str:
        codes = _split(value)
        unknown = sorted(set(codes) - TWO_DECIMAL_CURRENCIES)
        if not codes or unknown:
            raise ValueError(
                f"BILLING_TOPUP_CURRENCIES={value!r}: give one or more lowercase ISO 4217 codes,"
                " comma-separated, from: " + ", ".join(sorted(TWO_DECIMAL_CURRENCIES))
            )
        return value

    @model_validator(mode="after")
    def _replica_of_postgresql(self) -> Settings:
        read = self.DATABASE_READ_URL
        if read is not None and (self.is_sqlite or not read.startswith("postgresql")):
            raise ValueError(
                "DATABASE_READ_URL is a PostgreSQL replica's URL (postgresql+asyncpg://...),"
                " for a DATABASE_URL on PostgreSQL: SQLite has no replicas"
            )
        return self

    @model_validator(mode="after")
    def _refuse_live_keys_in_development(self) -> Settings:
        """Development's tokens are signed with a public secret: with a live key, anyone
        could mint an admin token and move real money."""
        if self.BILLING_ENV == "development" and self.stripe_livemode:
            raise ValueError(
                "BILLING_ENV=development refuses a live Stripe key (STRIPE_SECRET_KEY starts"
                " with sk_live_ or rk_live_): use a test key (sk_test_), or run with"
                " BILLING_ENV=production and its secrets"
            )
        return self

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.BILLING_ENV != "production":
            return self
        missing = [name for name in PRODUCTION_SECRETS if not _present(getattr(self, name))]
        if not self.allowed_redirect_hosts:
            missing.append(
                "BILLING_ALLOWED_REDIRECT_HOSTS (the hosts Stripe may send customers back to;"
                " a request's own Host header is not to be trusted)"
            )
        if missing:
            hint = "" if "BILLING_ENV" in self.model_fields_set else f" ({LOCAL_RUN_HINT})"
            raise ValueError(
                "BILLING_ENV=production refuses to start without: " + ", ".join(missing) + hint
            )
        assert self.BILLING_JWT_SECRET is not None
        secret = self.BILLING_JWT_SECRET.get_secret_value()
        if len(secret.encode()) < MIN_PRODUCTION_JWT_SECRET_BYTES or secret == DEV_JWT_SECRET:
            raise ValueError(
                f"BILLING_JWT_SECRET must be a secret of at least {MIN_PRODUCTION_JWT_SECRET_BYTES}"
                " bytes, not the development value"
            )
        for key in self.encryption_keys():
            try:
                Fernet(key)
            except ValueError as exc:
                raise ValueError(
                    "BILLING_ENCRYPTION_KEYS holds a key that is not a Fernet key"
                ) from exc
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.DATABASE_URL.startswith("sqlite")

    @property
    def run_worker(self) -> bool:
        """The in-process worker suits embedded SQLite; PostgreSQL runs `billing worker`."""
        if self.BILLING_RUN_WORKER is None:
            return self.is_sqlite
        return self.BILLING_RUN_WORKER

    @property
    def stripe_livemode(self) -> bool:
        """Whether the configured key is a live one: events of the other mode are ignored."""
        key = self.STRIPE_SECRET_KEY.get_secret_value().strip() if self.STRIPE_SECRET_KEY else ""
        return key.startswith(LIVE_STRIPE_KEY_PREFIXES)

    @property
    def webhook_secrets(self) -> list[str]:
        """Every accepted signing secret: several while one is being rotated out."""
        if self.STRIPE_WEBHOOK_SECRET is None:
            return []
        secrets = self.STRIPE_WEBHOOK_SECRET.get_secret_value().split(",")
        return [s.strip() for s in secrets if s.strip()]

    @property
    def jwt_secret(self) -> str:
        if self.BILLING_JWT_SECRET is not None:
            return self.BILLING_JWT_SECRET.get_secret_value()
        return DEV_JWT_SECRET

    @property
    def allowed_redirect_hosts(self) -> frozenset[str]:
        return frozenset(host.lower() for host in _split(self.BILLING_ALLOWED_REDIRECT_HOSTS))

    @property
    def topup_currencies(self) -> frozenset[str]:
        return frozenset(_split(self.BILLING_TOPUP_CURRENCIES))

    def encryption_keys(self) -> list[str]:
        """Fernet keys, newest first; development generates one into the data dir."""
        if self.BILLING_ENCRYPTION_KEYS is not None:
            keys = self.BILLING_ENCRYPTION_KEYS.get_secret_value().split(",")
            return [k.strip() for k in keys if k.strip()]
        key_file = self.BILLING_DATA_DIR / "encryption.key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_bytes(Fernet.generate_key())
            key_file.chmod(0o600)
        return [key_file.read_text().strip()]


class DemoSettings(Settings):
    """For `billing demo` and `billing sandbox`, offline tools for one machine: development
    unless BILLING_ENV (or `.env`) says otherwise, so `make demo` runs with nothing set.
    The service's own commands keep the production default."""

    BILLING_ENV: Literal["development", "production"] = "development"


def parse_rate_limits(spec: str) -> list[RateLimitItem]:
    """`limits` notation, one or more windows: "100/second;3000/minute". Checked when the
    settings load, so a typo stops the service at startup, naming the variable."""
    try:
        items = parse_many(spec)
    except ValueError:
        items = []
    if not items or any(item.amount < 1 for item in items):
        raise ValueError(
            f"{spec!r} is not a rate limit such as '100/second;3000/minute'"
            " (each window allows 1 or more requests)"
        )
    return items


def _split(value: str) -> list[str]:
    """The items of a comma-separated setting, blanks dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def _present(value: SecretStr | str | None) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value().strip())
    return bool(value and value.strip())


def load_settings(kind: type[Settings] = Settings) -> Settings:
    """Build settings from the environment, turning validation failures into one clear error."""
    secrets = os.environ.get("BILLING_SECRETS_DIR")
    try:
        return kind(_secrets_dir=secrets) if secrets else kind()
    except ValidationError as exc:
        # The messages only: pydantic's own text echoes the input values, secrets included.
        problems = [
            _problem(error["loc"], error["msg"])
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise ConfigurationError("; ".join(problems)) from exc


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    """One validation failure as a sentence: the variable it is about (none for a check of
    several), then our own message without pydantic's "Value error, " in front."""
    message = message.removeprefix("Value error, ")
    return f"{'.'.join(str(p) for p in loc)}: {message}" if loc else message


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
