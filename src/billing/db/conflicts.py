"""What a database error means for the caller: a lost connection, or a lost conflict."""

from __future__ import annotations

import asyncpg

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

CONFLICT_SQLSTATES = ("40001", "40P01")  # serialization_failure, deadlock_detected


def lost_a_conflict(exc: BaseException) -> bool:
    """A deadlock or serialization failure: PostgreSQL rolled the transaction back to
    break a conflict with another one, so running it again may well succeed. Seen
    through SQLAlchemy's wrapping (`orig`) or raised by the driver itself."""
    error: BaseException | None = exc
    for _ in range(4):
        if error is None:
            return False
        if getattr(error, "sqlstate", None) in CONFLICT_SQLSTATES:
            return True
        error = getattr(error, "orig", None) or error.__cause__
    return False
