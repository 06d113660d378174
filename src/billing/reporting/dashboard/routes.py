"""GET /api/financial/admin/dashboard: the admin's financial figures for a range of days."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.requests import Request

from billing.auth.dependencies import AdminPrincipal
from billing.core.errors import ValidationProblem
from billing.core.times import utcnow
from billing.db.replica import get_read_database
from billing.reporting.dashboard.schemas import Dashboard
from billing.reporting.dashboard.service import dashboard, date_range

router = APIRouter(prefix="/api/financial/admin", tags=["reporting"])

DAY_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def parse_day(value: str | None, name: str) -> date | None:
    """A `YYYY-MM-DD` query parameter as a date; 422 when it is no date."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationProblem(f"`{name}` is not a valid date.") from None


@router.get("/dashboard")
async def get_dashboard(
    request: Request,
    principal: AdminPrincipal,
    from_: Annotated[
        str | None, Query(alias="from", pattern=DAY_PATTERN, description="First UTC day")
    ] = None,
    to: Annotated[str | None, Query(pattern=DAY_PATTERN, description="Last UTC day")] = None,
) -> Dashboard:
    """Revenue, recurring revenue, subscriptions, payments, credits, top spenders and
    webhook health; the last 30 days ending today (UTC) unless a range is given."""
    days = date_range(parse_day(from_, "from"), parse_day(to, "to"), utcnow().date())
    return await dashboard(await get_read_database(request), days)
