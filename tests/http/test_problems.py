"""Errors the framework raises, in our shape: a 405 names every method of its path."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Credentials
from tests.support.credits import assert_problem


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        # Two templates of one shape: GET .../{user_id} and DELETE .../{subscription_id}.
        ("OPTIONS", "/api/stripe/subscriptions/42", "DELETE, GET"),
        ("PUT", "/api/stripe/subscriptions/sub_1", "DELETE, GET"),
        ("GET", "/api/stripe/webhook", "POST"),
        ("POST", "/healthz", "GET"),
    ],
)
async def test_a_405_allows_the_methods_of_every_route_at_its_path(
    client: httpx.AsyncClient, creds: Credentials, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, path, headers=creds.admin())
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == allowed
