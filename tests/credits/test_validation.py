"""Bad input to the credit routes: a clear problem+json error, and nothing changes.

Every refused request below is made against a funded wallet, and the wallet's balance
and history are compared before and after.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from billing.credits.schemas import MAX_AMOUNT
from tests.conftest import Credentials
from tests.support.credits import CREDITS, assert_problem

USER = 7
FUNDS = 100
BODY_LIMIT = 64 * 1024
MISSING = object()  # a field left out of the body

Ledger = tuple[int, list[dict[str, Any]]]


def body_for(operation: str, **fields: object) -> dict[str, Any]:
    """A valid add or spend body, with some fields replaced or (MISSING) removed."""
    base: dict[str, Any] = {"amount": 5}
    if operation == "add":
        base["reason"] = "validation test"
    base.update(fields)
    return {name: value for name, value in base.items() if value is not MISSING}


def caller(creds: Credentials, operation: str) -> dict[str, str]:
    """Who may do the operation: an admin adds, the wallet's owner spends."""
    return creds.admin() if operation == "add" else creds.bearer(USER)


async def ledger(client: httpx.AsyncClient, creds: Credentials, user_id: int = USER) -> Ledger:
    headers = creds.admin()
    current = await client.get(f"{CREDITS}/{user_id}", headers=headers)
    history = await client.get(f"{CREDITS}/{user_id}/transactions?limit=100", headers=headers)
    assert current.status_code == history.status_code == 200, (current.text, history.text)
    return current.json()["balance"], history.json()["data"]


@pytest.fixture
async def before(client: httpx.AsyncClient, creds: Credentials) -> Ledger:
    """Fund USER's wallet and return its state."""
    response = await client.post(
        f"{CREDITS}/{USER}/add", json=body_for("add", amount=FUNDS), headers=creds.admin()
    )
    assert response.status_code == 200, response.text
    state = await ledger(client, creds)
    assert state[0] == FUNDS, state
    assert len(state[1]) == 1, state
    return state


async def post(
    client: httpx.AsyncClient,
    creds: Credentials,
    operation: str,
    *,
    json_body: object = MISSING,
    content: bytes | AsyncIterator[bytes] | None = None,
    headers: dict[str, str] | None = None,
    user_id: object = USER,
) -> httpx.Response:
    all_headers = {**caller(creds, operation), **(headers or {})}
    url = f"{CREDITS}/{user_id}/{operation}"
    if json_body is not MISSING:
        return await client.post(url, json=json_body, headers=all_headers)
    if content is not None:
        all_headers.setdefault("Content-Type", "application/json")
    return await client.post(url, content=content, headers=all_headers)


OPERATIONS = ["add", "spend"]

# ---------------------------------------------------------------------------
# Amounts

BAD_AMOUNTS: dict[str, object] = {
    "zero": 0,
    "negative": -1,
    "most negative": -MAX_AMOUNT,
    "fraction": 1.5,
    "integral float": 10.0,
    "numeric string": "10",
    "null": None,
    "missing": MISSING,
    "true": True,
    "false": False,
    "list": [10],
    "object": {"value": 10},
    "10^30": 10**30,
    "2^53": 2**53,
    "2^53 + 1": 2**53 + 1,
    "2^63": 2**63,
    "2^64": 2**64,
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("amount", list(BAD_AMOUNTS.values()), ids=list(BAD_AMOUNTS))
async def test_a_bad_amount_is_422_and_changes_nothing(
    client: httpx.AsyncClient, creds: Credentials, before: Ledger, operation: str, amount: object
) -> None:
    response = await post(client, creds, operation, json_body=body_for(operation, amount=amount))
    problem = assert_problem(response, 422, "validation_error")
    assert any(error["loc"][-1] == "amount" for error in problem["errors"]), problem
    assert await ledger(client, creds) == before


# Numbers as they appear on the wire, which json.dumps would never write.
RAW_AMOUNTS = ["10.0", "1e1", "1E2", "1.0e1", "-0", "0.0", "NaN", "Infinity", "-Infinity"]


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("literal", RAW_AMOUNTS)
async def test_a_non_integer_json_number_is_422_and_changes_nothing(
    client: httpx.AsyncClient, creds: Credentials, before: Ledger, operation: str, literal: str
) -> None:
    fields = json.dumps(body_for(operation, amount=MISSING))[1:-1]
    content = f'{{"amount": {literal}, {fields}}}'.encode()
    response = await post(client, creds, operation, content=content)
    assert_problem(response, 422, "validation_error")
    assert await ledger(client, creds) == before


async def test_the_largest_amount_is_accepted(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    """2^53 - 1 passes validation on both routes; 2^53 (above) does not."""
    largest = body_for("spend", amount=MAX_AMOUNT)
    problem = assert_problem(
        await post(client, creds, "spend", json_body=largest), 402, "insufficient_credits"
    )
    assert (problem["balance"], problem["required"]) == (0, MAX_AMOUNT)

    added = await post(client, creds, "add", json_body=body_for("add", amount=MAX_AMOUNT))
    assert added.status_code == 200, added.text
    assert (added.json()["amount"], added.json()["balance"]) == (MAX_AMOUNT, MAX_AMOUNT)

    spent = await post(client, creds, "spend", json_body=largest)
    assert spent.status_code == 200, spent.text
    assert (spent.json()["amount"], spent.json()["balance"]) == (MAX_AMOUNT, 0)
    assert (await ledger(client, creds))[0] == 0


async def test_a_balance_cannot_grow_past_the_largest_amount(
    client: httpx.AsyncClient, creds: Credentials, before: Ledger
) -> None:
    topped = await post(client, creds, "add", json_body=body_for("add", amount=MAX_AMOUNT - FUNDS))
    assert topped.status_code == 200, topped.text
    full = await ledger(client, creds)
    assert full[0] == MAX_AMOUNT

    over = await post(client, creds, "add", json_body=body_for("add", amount=1))
    assert_problem(over, 409, "conflict")
    assert await ledger(client, creds) == full


# ---------------------------------------------------------------------------
# Body shape

UNKNOWN_FIELDS: dict[str, dict[str, object]] = {
    "user_id": {"user_id": 8},
    "currency": {"currency": "usd"},
    "balance": {"balance": 10**6},
    "kind": {"kind": "admin_grant"},
    "case variant of amount": {"Amount": 5},
    "null extra": {"extra": None},
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("extra", list(UNKNOWN_FIELDS.values()), ids=list(UNKNOWN_FIELDS))
async def test_an_unknown_field_is_422_and_changes_nothing(
    client: httpx.AsyncClient,
    creds: Credentials,
    before: Ledger,
    operation: str,
    extra: dict[str, object],
) -> None:
    response = await post(client, creds, operation, json_body=body_for(operation, **extra))
    problem = assert_problem(response, 422, "validation_error")
    assert any(error["loc"][-1] in extra for error in problem["errors"]), problem
    assert await ledger(client, creds) == before


async def test_the_other_routes_fields_are_unknown_fields(
    client: httpx.AsyncClient, creds: Credentials, before: Ledger
) -> None:
    """`metadata` belongs to spend and `reason`/`expires_at` to add; neither crosses over."""
    add = await post(client, creds, "add", json_body=body_for("add", metadata={"a": "b"}))
    assert_problem(add, 422, "validation_error")
    for extra in ({"reason": "x"}, {"expires_at": "2999-01-01T00:00:00Z"}):
        spend = await post(client, creds, "spend", json_body=body_for("spend", **extra))
        assert_problem(spend, 422, "validation_error")
    assert await ledger(client, creds) == before


BAD_DOCUMENTS: dict[str, bytes] = {
    "empty body": b"",
    "truncated object": b'{"amount": 5,',
    "trailing garbage": b'{"amount": 5} x',
    "single quotes": b"{'amount': 5}",
    "not utf-8": b'{"amount": 5, "reason": "\xff\xfe"}',
    "array": b'[{"amount": 5}]',
    "number": b"5",
    "string": b'"amount"',
    "null": b"null",
    "true": b"true",
    "empty object": b"{}",
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("content", list(BAD_DOCUMENTS.values()), ids=list(BAD_DOCUMENTS))
async def test_a_body_that_is_not_a_json_object_is_422_and_changes_nothing(
    client: httpx.AsyncClient, creds: Credentials, before: Ledger, operation: str, content: bytes
) -> None:
    response = await post(client, creds, operation, content=content)
    assert_problem(response, 422, "validation_error")
    assert await ledger(client, creds) == before


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_valid_document_sent_as_plain_text_is_422(
    client: httpx.AsyncClient, creds: Credentials, before: Ledger, operation: str
) -> None:
    content = json.dumps(body_for(operation)).encode()
    response = await post(
        client, creds, operation, content=content, headers={"Content-Type": "text/plain"}
    )
    assert_problem(response, 422, "validation_error")
    assert await ledger(client, creds) == before


# ---------------------------------------------------------------------------
# The user id in the path

BAD_USER_IDS: dict[str, str] = {
    "letters": "abc",
    "digits then letters": "7a",
    "zero": "0",
    "negative": "-7",
    "above 2^63-1": str(2**63),
    "non-ascii digit": "\u0667",
    "fullwidth digit": "\uff17",
    "exponent": "7e0",
    "hex": "0x7",
    "decimal": "7.0",
    "plus sign": "+7",
    "underscore": "7_0",
    "leading space": " 7",
    "trailing space": "7 ",
}
PATH_ROUTES = [("GET", ""), ("GET", "/transactions"), ("POST", "/add"), ("POST", "/spend")]


@pytest.mark.parametrize("user_id", list(BAD_USER_IDS.values()), ids=list(BAD_USER_IDS))
async def test_a_user_id_that_is_not_a_positive_integer_in_digits_is_422(
    client: httpx.AsyncClient, creds: Credentials, before: Ledger, user_id: str
) -> None:
    admin = creds.admin()
    for method, suffix in PATH_ROUTES:
        body = body_for(suffix.strip("/")) if method == "POST" else None
        response = await client.request(
            method, f"{CREDITS}/{user_id}{suffix}", json=body, headers=admin
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"][0]["loc"] == ["path", "user_id"], (method, suffix, problem)
    assert await ledger(client, creds) == before


# ---------------------------------------------------------------------------
# Body size


def padded_body(operation: str, size: int) -> bytes:
    """A valid body for the operation, padded with JSON whitespace to exactly `size` bytes."""
    document = json.dumps(body_for(operation)).encode()
    assert len(document) < size
    return document[:-1] + b" " * (size - len(document)) + b"}"


async def chunks(data: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_64_kib_is_413_and_changes_nothing(
    client: httpx.AsyncClient, creds: Credentials, before: Ledger, operation: str, streamed: bool
) -> None:
    data = padded_body(operation, BODY_LIMIT + 1)
    content = chunks(data) if streamed else data
    response = await post(client, creds, operation, content=content)
    assert ("content-length" in response.request.headers) is not streamed
    assert_problem(response, 413, "payload_too_large")
    assert await ledger(client, creds) == before


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_body_larger_than_its_declared_length_is_413(
    client: httpx.AsyncClient, creds: Credentials, before: Ledger, operation: str
) -> None:
    data = padded_body(operation, BODY_LIMIT + 1)
    response = await post(client, creds, operation, content=data, headers={"Content-Length": "64"})
    assert response.request.headers["content-length"] == "64"
    assert_problem(response, 413, "payload_too_large")
    assert await ledger(client, creds) == before


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_a_body_of_exactly_64_kib_is_accepted(
    client: httpx.AsyncClient, creds: Credentials, before: Ledger, operation: str, streamed: bool
) -> None:
    data = padded_body(operation, BODY_LIMIT)
    response = await post(client, creds, operation, content=chunks(data) if streamed else data)
    assert response.status_code == 200, response.text
    delta = 5 if operation == "add" else -5
    assert (await ledger(client, creds))[0] == FUNDS + delta


# ---------------------------------------------------------------------------
# Field rules

SPEND_FIELD_CASES: dict[str, dict[str, object]] = {
    "51 metadata keys": {"metadata": {f"k{i}": "v" for i in range(51)}},
    "metadata key of 41 chars": {"metadata": {"k" * 41: "v"}},
    "empty metadata key": {"metadata": {"": "v"}},
    "metadata value of 501 chars": {"metadata": {"k": "v" * 501}},
    "metadata value a number": {"metadata": {"k": 1}},
    "metadata value an object": {"metadata": {"k": {"nested": "v"}}},
    "metadata a list": {"metadata": ["k", "v"]},
    "description of 501 chars": {"description": "d" * 501},
    "description a number": {"description": 5},
    "idempotency_key empty": {"idempotency_key": ""},
    "idempotency_key of 256 chars": {"idempotency_key": "k" * 256},
    "idempotency_key a number": {"idempotency_key": 12345},
    "idempotency_key with a control character": {"idempotency_key": "a\nb"},
}
ADD_FIELD_CASES: dict[str, dict[str, object]] = {
    "reason missing": {"reason": MISSING},
    "reason empty": {"reason": ""},
    "reason spaces": {"reason": "   "},
    "reason whitespace": {"reason": "\t\n \r"},
    "reason null": {"reason": None},
    "reason of 501 chars": {"reason": "r" * 501},
    "expires_at in the past": {"expires_at": "2020-01-01T00:00:00Z"},
    "expires_at a second ago": {
        "expires_at": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    },
    "expires_at naive": {"expires_at": "2999-01-01T00:00:00"},
    "expires_at naive date": {"expires_at": "2999-01-01"},
    "expires_at not a date": {"expires_at": "next week"},
    "expires_at a number": {"expires_at": 1},
    "expires_at a future number": {"expires_at": 4102444800},  # not read as a Unix time
    "expires_at a future number as text": {"expires_at": "4102444800"},
    "idempotency_key empty": {"idempotency_key": ""},
    "idempotency_key of 256 chars": {"idempotency_key": "k" * 256},
}
FIELD_CASES = [
    pytest.param("spend", fields, id=f"spend-{name}") for name, fields in SPEND_FIELD_CASES.items()
] + [pytest.param("add", fields, id=f"add-{name}") for name, fields in ADD_FIELD_CASES.items()]


@pytest.mark.parametrize(("operation", "fields"), FIELD_CASES)
async def test_a_bad_field_is_422_and_changes_nothing(
    client: httpx.AsyncClient,
    creds: Credentials,
    before: Ledger,
    operation: str,
    fields: dict[str, object],
) -> None:
    response = await post(client, creds, operation, json_body=body_for(operation, **fields))
    assert_problem(response, 422, "validation_error")
    assert await ledger(client, creds) == before


async def test_fields_at_their_limits_are_accepted(
    client: httpx.AsyncClient, creds: Credentials, before: Ledger
) -> None:
    """The control group for the 422s above: each limit itself is allowed."""
    metadata = {f"{i:02d}" + "k" * 38: "v" * 500 for i in range(50)}
    spend = body_for("spend", metadata=metadata, description="d" * 500, idempotency_key="k" * 255)
    spent = await post(client, creds, "spend", json_body=spend)
    assert spent.status_code == 200, spent.text

    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    add = body_for("add", reason="  r" + "r" * 497 + "  ", expires_at=expires)
    added = await post(client, creds, "add", json_body=add)
    assert added.status_code == 200, added.text

    balance, history = await ledger(client, creds)
    assert balance == FUNDS
    assert history[1]["metadata"] == metadata
    assert history[0]["description"] == "r" * 498


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_an_idempotency_key_header_that_differs_from_the_body_is_422(
    client: httpx.AsyncClient, creds: Credentials, before: Ledger, operation: str
) -> None:
    response = await post(
        client,
        creds,
        operation,
        json_body=body_for(operation, idempotency_key="body-key"),
        headers={"Idempotency-Key": "header-key"},
    )
    assert_problem(response, 422, "validation_error")
    assert await ledger(client, creds) == before

    agreeing = await post(
        client,
        creds,
        operation,
        json_body=body_for(operation, idempotency_key="same-key"),
        headers={"Idempotency-Key": "same-key"},
    )
    assert agreeing.status_code == 200, agreeing.text
    assert len((await ledger(client, creds))[1]) == 2


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_an_oversized_idempotency_key_header_is_422(
    client: httpx.AsyncClient, creds: Credentials, before: Ledger, operation: str
) -> None:
    response = await post(
        client,
        creds,
        operation,
        json_body=body_for(operation),
        headers={"Idempotency-Key": "k" * 256},
    )
    assert_problem(response, 422, "validation_error")
    assert await ledger(client, creds) == before


BAD_QUERIES = ["limit=0", "limit=101", "limit=-1", "limit=ten", "limit=1.5", "cursor=%21%21"]


@pytest.mark.parametrize("query", BAD_QUERIES)
async def test_a_bad_history_query_is_422(
    client: httpx.AsyncClient, creds: Credentials, before: Ledger, query: str
) -> None:
    response = await client.get(f"{CREDITS}/{USER}/transactions?{query}", headers=creds.admin())
    assert_problem(response, 422, "validation_error")


# ---------------------------------------------------------------------------
# Other error shapes


async def test_insufficient_credits_is_402_with_integer_balance_and_required(
    client: httpx.AsyncClient, creds: Credentials, before: Ledger
) -> None:
    response = await post(client, creds, "spend", json_body=body_for("spend", amount=FUNDS + 1))
    problem = assert_problem(response, 402, "insufficient_credits")
    for field, value in (("balance", FUNDS), ("required", FUNDS + 1)):
        assert type(problem[field]) is int, problem  # not a bool, float or string
        assert problem[field] == value, problem
    assert await ledger(client, creds) == before

    exact = await post(client, creds, "spend", json_body=body_for("spend", amount=FUNDS))
    assert exact.status_code == 200, exact.text
    assert exact.json()["balance"] == 0


UNKNOWN_ROUTES = [
    ("GET", "/api/nothing-here"),
    ("GET", f"{CREDITS}"),
    ("GET", f"{CREDITS}/{USER}/unknown"),
    ("POST", f"{CREDITS}/{USER}/withdraw"),
    ("POST", f"{CREDITS}/{USER}/spend/extra"),
]


@pytest.mark.parametrize(("method", "path"), UNKNOWN_ROUTES)
async def test_an_unknown_route_is_404_problem(
    client: httpx.AsyncClient, creds: Credentials, method: str, path: str
) -> None:
    response = await client.request(method, path, headers=creds.admin())
    problem = assert_problem(response, 404, "not_found")
    assert problem.get("instance", path) == path


WRONG_METHODS = [
    pytest.param(method, f"{CREDITS}/{USER}{suffix}", allowed, id=f"{method} {suffix or '/'}")
    for method, suffix, allowed in [
        ("DELETE", "", {"GET"}),
        ("POST", "", {"GET"}),
        ("PUT", "/transactions", {"GET"}),
        ("GET", "/add", {"POST"}),
        ("GET", "/spend", {"POST"}),
        ("PATCH", "/spend", {"POST"}),
    ]
]


@pytest.mark.parametrize(("method", "path", "allowed"), WRONG_METHODS)
async def test_a_wrong_method_is_405_problem_and_changes_nothing(
    client: httpx.AsyncClient,
    creds: Credentials,
    before: Ledger,
    method: str,
    path: str,
    allowed: set[str],
) -> None:
    response = await client.request(method, path, headers=creds.admin())
    assert_problem(response, 405, "method_not_allowed")
    assert await ledger(client, creds) == before


@pytest.mark.parametrize(("method", "path", "allowed"), WRONG_METHODS)
async def test_a_405_names_the_allowed_methods(
    client: httpx.AsyncClient, creds: Credentials, method: str, path: str, allowed: set[str]
) -> None:
    """RFC 9110 section 15.5.6: a 405 MUST carry an Allow header."""
    response = await client.request(method, path, headers=creds.admin())
    assert response.status_code == 405
    assert {m.strip() for m in response.headers.get("allow", "").split(",")} == allowed
