"""The spend lane against the full route it is compiled from (billing/http/route_lanes.py):
one request, sent through each, gets the same answer and has the same effect, for every
kind of input: credentials, body, path, and idempotency keys in the header and the body.

Each side spends from a wallet of its own, funded alike, so the answers match but for
the transaction's id and time (and the side's own user id, where it appears). Each side's
admins and API keys are its own too, so the two sides' idempotency keys never meet.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing.core.config import Settings
from billing.core.correlation import HEADER, SERVER_HEADER
from tests.conftest import Credentials
from tests.credits.test_validation import chunks, ledger, padded_body
from tests.support.credits import CREDITS, add

FUNDS = 50
PER_REQUEST_HEADERS = (HEADER.lower(), SERVER_HEADER.lower(), "content-length")
SIDE_USERS = count(7_000_000, 10)  # a side's user, +1 another user, +2 an admin
AGREE = "(the body's key)"  # an Idempotency-Key header equal to the body's idempotency_key
UNKNOWN_KEY = "bk_" + "x" * 43
PATHS = {
    "own user id": "{user}",
    "leading zero": "0{user}",
    "not digits": "abc",
    "digits and letters": "{user}x",
    "too large": str(2**63),
    "the largest id": str(2**63 - 1),
    "negative": "-{user}",
    "zero": "0",
    "plus sign": "+{user}",
    "a float": "{user}.0",
}
WHO = [
    "no credentials",
    "malformed bearer",
    "not a bearer",
    "expired token",
    "own token",
    "another user's token",
    "admin token",
    "service API key",
    "admin API key",
    "unknown API key",
    "unknown API key and own token",
]


@dataclass(frozen=True)
class Case:
    who: str = "own token"
    path: str = "own user id"
    body: Any = field(default_factory=lambda: {"amount": 5})  # a JSON document, or bytes
    content_type: str | None = "application/json"
    header_key: str | None = None
    streamed: bool = False  # in small chunks, without a Content-Length


KEYS = st.one_of(
    st.text(string.ascii_letters + string.digits + "-_.:", min_size=1, max_size=12),
    st.sampled_from(["", "k" * 255, "k" * 256]),
)
AMOUNTS = st.one_of(
    st.integers(1, FUNDS + 5),
    st.integers(-3, 0),
    st.sampled_from([2**53 - 1, 2**53, 2**63, 2**64 + 1, 10**30, "5", 1.5, 5.0, True, None, []]),
)
OPTIONAL = {
    "description": st.one_of(st.text(max_size=12), st.just("1" * 25), st.integers()),
    "metadata": st.one_of(
        st.dictionaries(st.text(min_size=1, max_size=4), st.text(max_size=4), max_size=2),
        st.sampled_from([{"k": 5}, [], {"": "v"}]),
    ),
    "idempotency_key": st.one_of(st.none(), KEYS, st.integers()),
    "currency": st.just("usd"),
}
DOCUMENTS = st.one_of(
    st.fixed_dictionaries({"amount": AMOUNTS}, optional=OPTIONAL),
    st.fixed_dictionaries({}, optional=OPTIONAL),  # no amount, mostly
)
RAW = [b"", b"  ", b"{", b'{"amount": 5', b"{'amount': 5}", b"[1]", b"5", b"null", b'"x"']
RAW += [b'{"amount": NaN}', b'{"amount": 1e400}', b"amount=5", b'\xef\xbb\xbf{"amount": 5}']
RAW += ['{"amount": 5}'.encode("utf-16"), b'{"amount": 5, "description": "\\ud800"}']
RAW += [
    b'{"amount": 5}\x00',
    b'{"amount": 5, "amount": 6}',
    b'{"amount": 5, "description": "\xff"}',
]
CONTENT_TYPES = ["application/json; charset=utf-8", "Application/JSON", "application/jsonp"]
CONTENT_TYPES += ["application/merchant+json", "text/plain", "application/json, text/plain"]
CONTENT_TYPES += ["application/x-www-form-urlencoded", " application/json ;"]
CASES = st.builds(
    Case,
    who=st.one_of(st.just("own token"), st.sampled_from(WHO)),
    path=st.one_of(st.just("own user id"), st.sampled_from(list(PATHS))),
    body=st.one_of(DOCUMENTS, DOCUMENTS, st.sampled_from(RAW)),
    content_type=st.one_of(st.just("application/json"), st.sampled_from([None, *CONTENT_TYPES])),
    header_key=st.one_of(st.none(), st.none(), KEYS, st.just(AGREE)),
    streamed=st.booleans(),
)
BIG = padded_body("spend", 64 * 1024 + 1)
EXAMPLES = [Case(who=who) for who in WHO] + [Case(path=path) for path in PATHS]
EXAMPLES += [
    Case(body=body)
    for body in [
        {},  # no amount
        {"amount": -5},
        {"amount": 0},
        {"amount": 2**64 + 1},
        {"amount": 10**30},
        {"amount": FUNDS + 1},  # more than the wallet holds
        {"amount": "5"},
        {"amount": 5.0},
        {"amount": 5, "currency": "usd"},
        {"amount": 5, "description": "d", "metadata": {"k": "v"}},
        b'{"amount": 5',
        b"[1]",
        b"",
    ]
]
EXAMPLES += [
    Case(body=b"amount=5", content_type="application/x-www-form-urlencoded"),
    Case(content_type="text/plain"),
    Case(content_type=None),
    Case(header_key="key-1"),
    Case(header_key=""),
    Case(body={"amount": 5, "idempotency_key": "key-2"}),
    Case(body={"amount": 5, "idempotency_key": "key-3"}, header_key=AGREE),
    Case(body={"amount": 5, "idempotency_key": "key-4"}, header_key="key-5"),
    Case(who="no credentials", body=b"[1]", header_key="key-6"),
    Case(streamed=True),
    Case(body=BIG),
    Case(body=BIG, streamed=True),
    Case(who="no credentials", body=BIG, streamed=True),
    Case(who="another user's token", body=BIG, streamed=True),
]


def with_examples(test: Callable[..., Any]) -> Callable[..., Any]:
    for case in EXAMPLES:
        test = example(case=case)(test)
    return test


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """conftest's settings, with room for every example under the rate limit."""
    return settings.model_copy(update={"BILLING_RATE_LIMIT": "1000000/second"})


async def credentials(who: str, user: int, creds: Credentials) -> dict[str, str]:
    if who in ("service API key", "admin API key"):
        return await creds.api_key("service" if who.startswith("service") else "admin")
    return {
        "no credentials": {},
        "malformed bearer": {"Authorization": "Bearer not-a-token"},
        "not a bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
        "expired token": creds.bearer(user, ttl=-60),
        "own token": creds.bearer(user),
        "another user's token": creds.bearer(user + 1),
        "admin token": creds.bearer(user + 2, "admin"),
        "unknown API key": {"X-API-Key": UNKNOWN_KEY},
        "unknown API key and own token": {**creds.bearer(user), "X-API-Key": UNKNOWN_KEY},
    }[who]


def body_key(case: Case) -> Any:
    return case.body.get("idempotency_key") if isinstance(case.body, dict) else None


def header_key(case: Case) -> Any:
    return body_key(case) if case.header_key == AGREE else case.header_key


def keyed(case: Case) -> bool:
    return isinstance(header_key(case), str) or body_key(case) is not None


async def answer(
    http: httpx.AsyncClient, user: int, case: Case, creds: Credentials
) -> dict[str, Any]:
    """The spend's response, reduced to what both sides share, and its ledger effect; a
    keyed spend is sent twice (the second is a replay, spending nothing)."""
    before, history = await ledger(http, creds, user)
    headers = await credentials(case.who, user, creds)
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    key = header_key(case)
    if isinstance(key, str):
        headers["Idempotency-Key"] = key
    data = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
    url = f"{CREDITS}/{PATHS[case.path].format(user=user)}/spend"
    answers = []
    for _ in range(2 if keyed(case) else 1):
        content = chunks(data, 4096 if len(data) > 4096 else 5) if case.streamed else data
        answers.append(shared(await http.post(url, content=content, headers=headers), user))
    after, history_after = await ledger(http, creds, user)
    return {"answers": answers, "effect": (after - before, len(history_after) - len(history))}


def shared(response: httpx.Response, user: int) -> dict[str, Any]:
    """What the answer of one side shares with the other's."""
    assert HEADER in response.headers
    assert SERVER_HEADER in response.headers
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        body = {
            k: type(v).__name__ if k in ("transaction_id", "created_at") else v
            for k, v in body.items()
        }
        if body.get("user_id") == user:
            body["user_id"] = "the side's user"
        if isinstance(body.get("instance"), str):
            body["instance"] = body["instance"].replace(str(user), "{user}")
    return {
        "status": response.status_code,
        "headers": {k: v for k, v in response.headers.items() if k not in PER_REQUEST_HEADERS},
        "body": body,
    }


def the_lane_takes(case: Case) -> bool:
    """A request the lane serves itself when the full route answers it with a 200."""
    media_type = (case.content_type or "").partition(";")[0].strip().lower()
    return media_type == "application/json" and not keyed(case)


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=CASES)
@with_examples
async def test_a_spend_gets_the_same_answer_through_the_lane_and_the_full_route(
    client: httpx.AsyncClient,
    full: httpx.AsyncClient,
    creds: Credentials,
    lanes_did: list[str],
    case: Case,
) -> None:
    laned_user, full_user = next(SIDE_USERS), next(SIDE_USERS)
    for user in (laned_user, full_user):
        assert (await add(full, creds.admin(), user, FUNDS)).status_code == 200
    lanes_did.clear()
    laned = await answer(client, laned_user, case, creds)
    refused_by_length = case.body is BIG and not case.streamed  # before the lanes: 413
    assert len(lanes_did) == (0 if refused_by_length else len(laned["answers"])), lanes_did
    assert laned == await answer(full, full_user, case, creds)
    if laned["answers"][0]["status"] == 200 and the_lane_takes(case):
        assert lanes_did == ["served"]
    if keyed(case):
        assert "served" not in lanes_did
