"""Domain errors and their RFC 9457 problem+json rendering.

Every error the API returns has a stable snake_case `code`; clients branch on
the code, never on the human-readable `title` or `detail`.
"""

from __future__ import annotations

from typing import Any

import asyncpg
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

from billing.http_middleware import HttpMiddleware

PROBLEM_MEDIA_TYPE = "application/problem+json"
logger = structlog.get_logger(__name__)
# Errors after which a driver connection cannot be trusted: it was lost, refused, shut down
# by the server (or the server is starting up), or left mid-protocol. SQL errors
# (constraints and the like) are not here.
DRIVER_DISCONNECTS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    ConnectionError,
)


class BillingError(Exception):
    """An error with a status, a stable code and a sentence for humans."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self, detail: str | None = None, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra
        self._headers = headers or {}

    def headers(self) -> dict[str, str]:
        return self._headers


class ValidationProblem(BillingError):
    status, code, title = 422, "validation_error", "The request is not valid"


class Unauthenticated(BillingError):
    status, code, title = 401, "unauthenticated", "Missing or invalid credentials"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(BillingError):
    status, code, title = 403, "forbidden", "Not allowed for these credentials"


class NotFound(BillingError):
    status, code, title = 404, "not_found", "Not found"


class MethodNotAllowed(BillingError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class InsufficientCredits(BillingError):
    status, code, title = 402, "insufficient_credits", "Not enough credits"

    def __init__(self, balance: int, required: int) -> None:
        super().__init__(
            f"The balance is {balance} credits; {required} are required.",
            balance=balance,
            required=required,
        )


class IdempotencyConflict(BillingError):
    status, code, title = 409, "idempotency_conflict", "Idempotency key reused"


class IdempotencyInProgress(BillingError):
    status, code, title = 409, "idempotency_in_progress", "A request with this key is running"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class Conflict(BillingError):
    status, code, title = 409, "conflict", "Conflict with the current state"


class PayloadTooLarge(BillingError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class RateLimited(BillingError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many requests; retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )


class ServiceUnavailable(BillingError):
    status, code, title = 503, "service_unavailable", "Service temporarily unavailable"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class ClientClosedRequest(BillingError):
    """The client went away before we read its request; nobody will see this answer."""

    status, code, title = 499, "client_closed_request", "Client closed the request"


class StripeProblem(BillingError):
    """Stripe refused or could not be reached; `stripe_code` is Stripe's own code."""

    status, code, title = 502, "stripe_error", "Stripe could not complete the request"

    def __init__(self, detail: str, stripe_code: str | None) -> None:
        super().__init__(detail, stripe_code=stripe_code)


class CardDeclined(BillingError):
    status, code, title = 402, "card_declined", "The card was declined"

    def __init__(self, detail: str, decline_code: str | None) -> None:
        super().__init__(detail, decline_code=decline_code)


class InternalError(BillingError):
    status, code, title = 500, "internal_error", "Internal error"


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
    if isinstance(exc, PoolTimeout):
        logger.warning("database_pool_exhausted")
        return ServiceUnavailable("The service is at capacity; retry shortly.")
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
