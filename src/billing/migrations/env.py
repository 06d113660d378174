"""Alembic environment: runs migrations over the async engine of the given URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from billing.core.config import Settings
from billing.db.engine import create_engine
from billing.migrations.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = config.attributes.get("database_url") or Settings().DATABASE_URL
    # Only the URL matters here: the caller (`billing migrate`, the demo, a test) has
    # loaded and checked its settings already; production's secrets are not needed.
    pooled = bool(config.attributes.get("pgbouncer", False))
    engine = create_engine(Settings.model_construct(DATABASE_URL=url, DATABASE_PGBOUNCER=pooled))
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run `billing migrate`")
asyncio.run(_run_async())
