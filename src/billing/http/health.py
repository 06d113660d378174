"""Liveness, readiness and metrics for operators."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

from billing.core.config import Settings
from billing.core.errors import ServiceUnavailable
from billing.db import server_settings
from billing.db.engine import get_database
from billing.http.metrics import metrics_endpoint
from billing.migrations import head_revision

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
    settings: Settings = request.app.state.settings
    try:
        async with get_database(request).autocommit() as connection:
            revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            pooled = settings.DATABASE_PGBOUNCER
            problem = await server_settings.problem(connection, settings) if pooled else None
    except Exception as exc:
        raise ServiceUnavailable("The database is unreachable or not migrated.") from exc
    if problem is not None:
        raise ServiceUnavailable(problem)
    if revision != HEAD_REVISION:
        raise ServiceUnavailable(
            f"The database is at migration {revision}, not {HEAD_REVISION}: run `billing migrate`."
        )
    return {"status": "ready", "migration": str(revision)}


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return await metrics_endpoint(request)
