"""Errors as RFC 9457 problem+json responses: the app's answer to any exception."""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import (
    DBAPIError,
    EmulatedDBAPIException,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from billing.core.errors import (
    BillingError,
    ClientClosedRequest,
    InternalError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    ValidationProblem,
)
from billing.db.conflicts import DRIVER_DISCONNECTS, lost_a_conflict
from billing.db.engine import AT_CAPACITY
from billing.http.middleware import HttpMiddleware

PROBLEM_MEDIA_TYPE = "application/problem+json"


logger = structlog.get_logger(__name__)


def problem_response(error: BillingError, instance: str | None = None) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:billing:problem:{error.code}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
    }
    if instance:
        body["instance"] = instance
    body.update(error.extra)
    return Response(
        orjson.dumps(body),
        status_code=error.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=error.headers(),
    )


def validation_problem(exc: RequestValidationError) -> ValidationProblem:
    """Describe each invalid field without echoing the submitted values back."""
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    first = errors[0] if errors else None
    detail = (
        f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}" if first else "Invalid request"
    )
    return ValidationProblem(detail, errors=errors)


def http_problem(exc: StarletteHTTPException) -> BillingError:
    """The framework's own HTTP errors, in our shape; its headers (such as Allow) kept."""
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        return NotFound(headers=headers)
    if exc.status_code == 405:
        return MethodNotAllowed(headers=headers)
    if exc.status_code == 400:  # a body the framework could not even decode
        return ValidationProblem(str(exc.detail), headers=headers)
    error = BillingError(str(exc.detail), headers=headers)
    error.status = exc.status_code
    return error


def to_problem(exc: Exception) -> BillingError:
    """Map any exception raised while handling a request to the problem to return."""
    if isinstance(exc, BillingError):
        return exc
    if isinstance(exc, RequestValidationError):
        return validation_problem(exc)
    if isinstance(exc, StarletteHTTPException):
        return http_problem(exc)
    if isinstance(exc, ClientDisconnect):
        return ClientClosedRequest()
    if (
        isinstance(exc, (OperationalError, InterfaceError))
        or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
        or _lost_database(exc)
    ):
        logger.warning("database_unavailable", error=type(getattr(exc, "orig", exc)).__name__)
        return ServiceUnavailable("The database is unreachable; retry shortly.")
    if lost_a_conflict(exc):  # a deadlock, or a replica's read cancelled by its recovery
        logger.warning("database_conflict", error=type(getattr(exc, "orig", exc)).__name__)
        return ServiceUnavailable("A concurrent change interrupted the request; retry.")
    if isinstance(exc, PoolTimeout):
        logger.warning("database_pool_exhausted")
        return ServiceUnavailable(AT_CAPACITY)
    if isinstance(exc, (OSError, TimeoutError)):
        logger.warning("dependency_unavailable", error=type(exc).__name__)
        return ServiceUnavailable()
    logger.exception("unhandled_error", error=type(exc).__name__)
    return InternalError()


def _lost_database(exc: BaseException) -> bool:
    """The driver's connection error, however wrapped: SQLAlchemy wraps it in its DBAPI
    adapter's error, and that (except on a raw pool checkout) in its own `DBAPIError`,
    which marks it a disconnect only for a connection that was already open."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, DRIVER_DISCONNECTS):
            return True
        cause = cause.__cause__
    return False


ROUTED_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> str:
    """Every method some route takes at this path. Starlette names only the first route's,
    but `GET /api/stripe/subscriptions/{user_id}` and `DELETE .../{subscription_id}` (two
    templates of one shape) share their paths."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in ROUTED_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    )


async def handle_error(request: Request, exc: Exception) -> Response:
    """The app's answer to any exception a request raised: a problem+json response."""
    problem = to_problem(exc)
    if isinstance(problem, MethodNotAllowed):
        problem = MethodNotAllowed(headers={"Allow": allowed_methods(request)})
    return problem_response(problem, instance=request.url.path)


class AnswerUnhandled(HttpMiddleware):
    """ASGI middleware, just inside `RequestId`: an exception that no handler inside took
    is answered here. Starlette answers it only in its outermost middleware, outside ours:
    that 500 carried no X-Request-ID, its log line no request id, and the exception went
    on to the server, which dropped the keep-alive connection."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, noting_start)
        except Exception as exc:
            if started:  # too late for another answer
                raise
            response = await handle_error(Request(scope, receive), exc)
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    handled = (BillingError, RequestValidationError, StarletteHTTPException, ClientDisconnect)
    # Answered inside the app too: a handler for `Exception` alone answers, then re-raises
    # to the server, which logs a traceback and drops the keep-alive connection, for every
    # 503 of a database outage.
    dependencies = (SQLAlchemyError, EmulatedDBAPIException, OSError)
    for exc_class in (*handled, *dependencies, Exception):
        app.add_exception_handler(exc_class, handle_error)
