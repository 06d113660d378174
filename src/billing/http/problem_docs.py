"""The OpenAPI document's side of RFC 9457: every route's errors are problem+json."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from billing.http.problems import PROBLEM_MEDIA_TYPE


class Problem(BaseModel):
    """An error (RFC 9457): clients branch on `code`; some codes add members (`balance`
    and `required`, `errors`, `retry_after`, `stripe_code`, ...)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None


_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
# For every route at once: any of them can answer 404, 405, 413, 429, 500 or 503 besides
# its own errors, all problem+json (FastAPI's own 422 schema was not what is sent).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": "Client error", "content": _CONTENT},
    "5XX": {"description": "Server error", "content": _CONTENT},
}


def document_problems(app: FastAPI) -> None:
    """Add `Problem` to the document: FastAPI lists only the models routes name."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("Problem", Problem.model_json_schema())
        return document

    app.openapi = openapi  # type: ignore[method-assign]
