"""Errors shaped like Stripe's, raised through localstripe's error middleware."""

from __future__ import annotations

from typing import Any

from localstripe.errors import UserError
from localstripe.resources import StripeObject, store


class StripeError(UserError):
    """A Stripe API error: HTTP status plus the `error` object Stripe returns."""

    def __init__(
        self, status: int, message: str, *, type: str = "invalid_request_error", **fields: Any
    ) -> None:
        super().__init__(status, message)
        body: dict[str, Any] = {"message": message, "type": type}
        body.update({key: value for key, value in fields.items() if value is not None})
        self.body = {"error": body}


def invalid(message: str, param: str | None = None) -> StripeError:
    """400 invalid_request_error."""
    return StripeError(400, message, param=param)


def missing(param: str) -> StripeError:
    """400 for a required parameter that was not sent."""
    return StripeError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def unknown(param: str) -> StripeError:
    """400 for a parameter Stripe does not know."""
    return StripeError(
        400, f"Received unknown parameter: {param}", code="parameter_unknown", param=param
    )


def no_such(kind: str, id: str, param: str = "id") -> StripeError:
    """404 resource_missing, worded as Stripe words it."""
    return StripeError(404, f"No such {kind}: '{id}'", code="resource_missing", param=param)


def install() -> None:
    """Word localstripe's 404s as Stripe does: `No such customer: 'cus_x'`, resource_missing."""

    def retrieve(cls: type[StripeObject], id: str) -> StripeObject:
        found = store.get(f"{cls.object}:{id}")
        if found is None:
            raise no_such(str(cls.object), id)
        return found

    StripeObject._api_retrieve = classmethod(retrieve)
