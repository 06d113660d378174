"""Alembic, driven from code: one history for SQLite (batch mode) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head", pgbouncer: bool = False) -> None:
    """`pgbouncer`: the URL is a PgBouncer in transaction pooling (DATABASE_PGBOUNCER)."""
    config = alembic_config(database_url)
    config.attributes["pgbouncer"] = pgbouncer
    command.upgrade(config, revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
