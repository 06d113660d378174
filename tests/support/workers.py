"""Under pytest-xdist (`make test` runs two workers) each worker tests on a PostgreSQL
database and a Redis database of its own, so that no worker resets, migrates or fills
what another one is reading. Without xdist the URLs are used as given."""

from __future__ import annotations

import asyncio
import os

import asyncpg

WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ...


def own_postgres(url: str | None) -> str | None:
    """`url` with the database `<name>_<worker>`, created empty here."""
    if not url or WORKER is None:
        return url
    base, _, name = url.rpartition("/")
    own = f"{name}_{WORKER}"
    asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)'))
    asyncio.run(_admin(base, f'CREATE DATABASE "{own}"'))
    return f"{base}/{own}"


def drop_own_postgres(url: str | None) -> None:
    if url and WORKER is not None:
        base, _, own = url.rpartition("/")
        asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)'))


def own_redis(url: str | None) -> str | None:
    """`url` with the database index after the given one's, one per worker."""
    if not url or WORKER is None:
        return url
    base, _, index = url.rpartition("/")
    return f"{base}/{int(index or 0) + 1 + int(WORKER.removeprefix('gw'))}"


async def _admin(base: str, statement: str) -> None:
    connection = await asyncpg.connect(base.replace("+asyncpg", "", 1) + "/postgres")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
