"""Settings: every environment variable the service reads, with safe defaults.

Development runs with no configuration at all. Production refuses to start
while any secret is missing, rather than falling back to a development value.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "development-only-jwt-secret-never-use-in-production"  # noqa: S105
PRODUCTION_SECRETS = (
    "BILLING_JWT_SECRET",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "BILLING_ENCRYPTION_KEYS",
)
MIN_PRODUCTION_JWT_SECRET_BYTES = 32


class ConfigurationError(RuntimeError):
    """The settings cannot be used as given; the message says why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=True)

    DATABASE_URL: str = "sqlite+aiosqlite:///./billing.db"
    DATABASE_POOL_SIZE: int = Field(default=20, ge=1, le=500)

    STRIPE_SECRET_KEY: SecretStr | None = None
    STRIPE_PUBLISHABLE_KEY: str | None = None
    STRIPE_WEBHOOK_SECRET: SecretStr | None = None
    STRIPE_API_VERSION: str | None = None
    STRIPE_API_BASE: str | None = None
    STRIPE_WEBHOOK_TOLERANCE: int = Field(default=300, ge=1)
    STRIPE_CUSTOMER_PORTAL_URL: str | None = None
    STRIPE_DEBUG: bool = False

    BILLING_ENV: Literal["development", "production"] = "development"
    BILLING_JWT_SECRET: SecretStr | None = None
    BILLING_ENCRYPTION_KEYS: SecretStr | None = None
    BILLING_DATA_DIR: Path = Path(".billing")
    BILLING_CREDITS_PER_UNIT: int = Field(default=1, ge=1)
    BILLING_RUN_WORKER: bool | None = None
    REDIS_URL: str | None = None
    BILLING_ALLOWED_REDIRECT_HOSTS: str = ""
    BILLING_TOPUP_MIN: int = Field(default=100, ge=1)
    BILLING_TOPUP_MAX: int = Field(default=1_000_000, ge=1)
    BILLING_WEBHOOK_RETENTION_DAYS: int = Field(default=365, ge=1)
    BILLING_ALERT_WEBHOOK_URL: str | None = None

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.BILLING_ENV != "production":
            return self
        missing = [name for name in PRODUCTION_SECRETS if not _present(getattr(self, name))]
        if missing:
            raise ValueError(
                "BILLING_ENV=production refuses to start without: " + ", ".join(missing)
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
        hosts = (h.strip().lower() for h in self.BILLING_ALLOWED_REDIRECT_HOSTS.split(","))
        return frozenset(h for h in hosts if h)

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


def _present(value: SecretStr | str | None) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value().strip())
    return bool(value and value.strip())


def load_settings() -> Settings:
    """Build settings from the environment, turning validation failures into one clear error."""
    try:
        return Settings()
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
