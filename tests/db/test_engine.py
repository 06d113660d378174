"""Database plumbing: lost connections and an exhausted pool answer 503, then recover."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from billing.core.config import Settings
from billing.credits.verify import verify_ledger
from billing.db.engine import Database
from billing.http.app import create_app
from billing.http.problems import to_problem
from tests.conftest import Credentials
from tests.support.credits import add, balance, spend


async def test_lost_connections_answer_503_and_the_pool_recovers(
    client: httpx.AsyncClient, creds: Credentials, database: Database, settings: Settings
) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite has no server connection to lose; this is the PostgreSQL path")
    await add(client, creds.admin(), 1, 100)
    opened = await asyncio.gather(*(spend(client, creds.bearer(1), 1, 1) for _ in range(6)))
    assert [r.status_code for r in opened] == [200] * 6  # several pooled connections now
    async with database.engine.connect() as connection:
        await connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    statuses = [(await spend(client, creds.bearer(1), 1, 1)).status_code for _ in range(25)]
    assert 503 in statuses, "no request met a lost connection: the test proves nothing"
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[-5:] == [200] * 5, statuses
    spent = 6 + statuses.count(200)
    assert await balance(client, creds.bearer(1), 1) == 100 - spent
    async with database.sessions() as session, session.begin():
        assert (await verify_ledger(session)).ok


def test_an_exhausted_pool_is_service_unavailable() -> None:
    problem = to_problem(PoolTimeout("QueuePool limit reached"))
    assert problem.status == 503
    assert problem.code == "service_unavailable"
    assert problem.headers()["Retry-After"]


STARTING_UP = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
CLOSED = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed mid-operation")


def as_raised(driver: Exception, wrapped: bool = True) -> Exception:
    """The driver's error as SQLAlchemy hands it on: in its DBAPI adapter's error and,
    except on a raw pool checkout, in its own DBAPIError (not marked a disconnect when
    the connection was never opened)."""
    adapted = AsyncAdapt_asyncpg_dbapi.Error(str(driver))
    adapted.__cause__ = driver
    if not wrapped:
        return adapted
    error = DBAPIError("SELECT 1", None, adapted)
    error.__cause__ = adapted
    return error


@pytest.mark.parametrize("wrapped", [True, False], ids=["DBAPIError", "raw checkout"])
@pytest.mark.parametrize("driver", [STARTING_UP, CLOSED], ids=["starting up", "closed"])
def test_a_database_restarting_is_service_unavailable(driver: Exception, wrapped: bool) -> None:
    problem = to_problem(as_raised(driver, wrapped))
    assert (problem.status, problem.code) == (503, "service_unavailable")


def test_an_sql_error_is_still_an_internal_error() -> None:
    error = as_raised(asyncpg.exceptions.UndefinedTableError('relation "x" does not exist'))
    assert to_problem(error).status == 500


@pytest.mark.parametrize(
    "error",
    [as_raised(STARTING_UP), as_raised(CLOSED, wrapped=False), ConnectionRefusedError()],
    ids=["DBAPIError", "adapted", "OSError"],
)
async def test_an_outage_is_answered_inside_the_app(error: Exception, tmp_path: Path) -> None:
    """Never re-raised to the server, which would log a traceback and drop the client's
    keep-alive connection with every 503 of an outage."""
    app = create_app(
        Settings(
            _env_file=None,
            BILLING_ENV="development",
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x",
        )
    )

    @app.get("/down")
    async def down() -> None:
        raise error

    transport = httpx.ASGITransport(app=app)  # raises what reaches the server
    async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:
        response = await http.get("/down")
    assert response.status_code == 503
    await app.state.database.dispose()
