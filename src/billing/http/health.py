"""Liveness, readiness and metrics for operators."""

from __future__ import annotations

import structlog
from fastapi import APIRouter
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

from billing.core.config import Settings
from billing.core.errors import ServiceUnavailable
from billing.db import server_settings
from billing.db.engine import Database, get_database
from billing.http.metrics import metrics_endpoint
from billing.migrations import head_revision

logger = structlog.get_logger(__name__)
router = APIRouter(tags=["operations"])
HEAD_REVISION = head_revision()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up; says nothing about its dependencies."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> dict[str, str]:
    """Ready to serve: the database answers, its schema is at the latest migration and,
    behind PgBouncer, its connections run with the service's settings."""
    problem = await not_ready(get_database(request), request.app.state.settings)
    if problem is not None:
        raise ServiceUnavailable(problem)
    return {"status": "ready", "migration": str(HEAD_REVISION)}


async def not_ready(database: Database, settings: Settings) -> str | None:
    """Why a process on `database` may not take work yet, or None (`billing worker`'s
    probe asks too)."""
    try:
        async with database.autocommit() as connection:
            revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            problem = await server_settings.problem(connection, settings)
    except Exception:
        return "The database is unreachable or not migrated."
    if revision != HEAD_REVISION:
        return (
            f"The database is at migration {revision}, not {HEAD_REVISION}: run `billing migrate`."
        )
    return problem


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return await metrics_endpoint(request)
