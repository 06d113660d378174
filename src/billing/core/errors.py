"""Domain errors: each has a status, a stable snake_case `code` and a sentence for humans.

Clients branch on the code, never on the `title` or `detail`. Rendering them as
problem+json is the HTTP layer's job (`billing.http.problems`); raising one imports
no web framework.
"""

from __future__ import annotations

from typing import Any


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


class HoldNotActive(BillingError):
    """A capture or release of a hold already captured, released or expired."""

    status, code, title = 409, "hold_not_active", "The hold is not active"


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
