"""The OpenAPI document says what every error is: problem+json, with a `code`."""

from __future__ import annotations

from typing import Any

import httpx

from billing.core.config import Settings
from billing.http.app import create_app
from billing.http.problem_docs import Problem
from tests.conftest import Credentials
from tests.support.credits import CREDITS

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def openapi_document() -> dict[str, Any]:
    """The document the service serves (and the frontend's types are generated from)."""
    return create_app(Settings(_env_file=None, BILLING_ENV="development")).openapi()


def documented_operations() -> list[dict[str, Any]]:
    paths = openapi_document()["paths"].values()
    return [operation for methods in paths for operation in methods.values()]


def test_every_operation_documents_its_errors_as_problems() -> None:
    operations = documented_operations()
    assert len(operations) > 20
    for operation in operations:
        responses = operation["responses"]
        for status in ("4XX", "5XX"):
            content = responses[status]["content"]
            assert content == {"application/problem+json": {"schema": PROBLEM_REF}}
        assert "422" not in responses, "FastAPI's validation error shape is never sent"


def test_the_problem_schema_is_in_the_document() -> None:
    document = openapi_document()
    schema = document["components"]["schemas"]["Problem"]
    assert schema["required"] == ["type", "title", "status", "detail", "code"]
    assert schema["additionalProperties"] is True
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def test_a_validation_error_is_a_documented_problem(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    response = await client.post(f"{CREDITS}/7/spend", json={"amount": 0}, headers=creds.admin())
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = Problem.model_validate(response.json())
    assert problem.code == "validation_error"
    assert "errors" in (problem.model_extra or {})
