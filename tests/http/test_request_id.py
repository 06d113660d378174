"""Request ids (billing/http/request_id.py): the server mints its own for every request,
which logs and audit entries carry; the caller's own `X-Request-ID`, when sane, is
echoed and kept beside it, never in its place."""

from __future__ import annotations

import re

import httpx

from billing.core.correlation import HEADER, SERVER_HEADER
from tests.conftest import Credentials

BALANCE = "/api/financial/credits/44"
MINTED = re.compile("[0-9a-f]{32}")


async def test_a_callers_id_is_echoed_and_the_server_mints_its_own_each_time(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    headers = {**creds.bearer(44), HEADER: "forged-123"}
    first, second = [await client.get(BALANCE, headers=headers) for _ in range(2)]
    for response in (first, second):
        assert response.status_code == 200, response.text
        assert response.headers[HEADER] == "forged-123"
        assert MINTED.fullmatch(response.headers[SERVER_HEADER])
    assert first.headers[SERVER_HEADER] != second.headers[SERVER_HEADER]


async def test_without_a_callers_id_both_headers_name_the_servers(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    response = await client.get(BALANCE, headers=creds.bearer(44))
    assert response.status_code == 200, response.text
    assert MINTED.fullmatch(response.headers[SERVER_HEADER])
    assert response.headers[HEADER] == response.headers[SERVER_HEADER]


async def test_a_problem_carries_both_ids_in_its_headers_and_neither_in_its_body(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(BALANCE, headers={HEADER: "trace-1.a:b_c"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers[HEADER] == "trace-1.a:b_c"
    assert MINTED.fullmatch(response.headers[SERVER_HEADER])
    assert "trace-1" not in response.text
    assert response.headers[SERVER_HEADER] not in response.text
