"""Authentication and authorization of the credit API, attacked from every side.

Every bad credential gets 401 `unauthenticated` on every credit route and changes
nothing; every role gets exactly the status the API's table of routes gives it on every route,
and a refused request changes nothing either.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import update

from billing.auth.api_keys import VERIFIED_KEY_SECONDS, hash_api_key
from billing.auth.models import ApiKey
from billing.auth.principals import Role
from billing.core.config import Settings
from billing.core.ids import MAX_USER_ID
from billing.core.times import utcnow
from billing.db.engine import Database
from tests.conftest import Credentials
from tests.http.test_problem_docs import documented_operations
from tests.support.credits import CREDITS, assert_problem

# Some attack tokens use short HMAC keys on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

USER = 7  # the wallet every test acts on
OTHER = 8  # another platform user
FUNDS = 100
ADD = 5
SPEND = 3
MISSING = object()  # a claim left out of the token


class Route(NamedTuple):
    method: str
    suffix: str
    body: dict[str, Any] | None


ROUTES: dict[str, Route] = {
    "balance": Route("GET", "", None),
    "transactions": Route("GET", "/transactions", None),
    "add": Route("POST", "/add", {"amount": ADD, "reason": "auth test"}),
    "spend": Route("POST", "/spend", {"amount": SPEND}),
}
# What a successful call does to the wallet's balance.
EFFECT = {"balance": 0, "transactions": 0, "add": ADD, "spend": -SPEND}


async def call(
    client: httpx.AsyncClient, route: str, user_id: int, headers: dict[str, str]
) -> httpx.Response:
    method, suffix, body = ROUTES[route]
    return await client.request(method, f"{CREDITS}/{user_id}{suffix}", json=body, headers=headers)


async def fund(client: httpx.AsyncClient, creds: Credentials, user_id: int, amount: int) -> None:
    response = await client.post(
        f"{CREDITS}/{user_id}/add", json={"amount": amount, "reason": "seed"}, headers=creds.admin()
    )
    assert response.status_code == 200, response.text


async def ledger(
    client: httpx.AsyncClient, creds: Credentials, user_id: int
) -> tuple[int, list[dict[str, Any]]]:
    """The wallet's balance and full history, read by an admin."""
    headers = creds.admin()
    current = await client.get(f"{CREDITS}/{user_id}", headers=headers)
    history = await client.get(f"{CREDITS}/{user_id}/transactions?limit=100", headers=headers)
    assert current.status_code == history.status_code == 200, (current.text, history.text)
    return current.json()["balance"], history.json()["data"]


def assert_unauthenticated(response: httpx.Response) -> None:
    assert_problem(response, 401, "unauthenticated")
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


# ---------------------------------------------------------------------------
# Hand-made tokens


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(**overrides: object) -> dict[str, Any]:
    """Claims that would be valid for USER, with some replaced or (MISSING) removed."""
    exp = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())
    base: dict[str, Any] = {"sub": str(USER), "role": "user", "exp": exp}
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not MISSING}


def signed(settings: Settings, payload: dict[str, Any], algorithm: str = "HS256") -> str:
    return jwt.encode(payload, settings.jwt_secret, algorithm=algorithm)


def unsigned(payload: dict[str, Any], alg: str = "none") -> str:
    """A JWT with no signature at all, as an attacker writes it by hand."""
    return f"{b64json({'alg': alg, 'typ': 'JWT'})}.{b64json(payload)}."


@cache
def rsa_private_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


HeaderFactory = Callable[[Settings], dict[str, str]]


def _swap_signature(settings: Settings) -> dict[str, str]:
    """A user token's claims promoted to admin, keeping the user token's signature."""
    header, _, signature = signed(settings, claims()).split(".")
    return bearer(f"{header}.{b64json(claims(role='admin'))}.{signature}")


def _past(seconds: int) -> int:
    return int((datetime.now(UTC) - timedelta(seconds=seconds)).timestamp())


def _future(seconds: int) -> int:
    return int((datetime.now(UTC) + timedelta(seconds=seconds)).timestamp())


BAD_CREDENTIALS: dict[str, HeaderFactory] = {
    "no credentials": lambda s: {},
    "empty authorization": lambda s: {"Authorization": ""},
    "bearer without token": lambda s: {"Authorization": "Bearer"},
    "bearer with blank token": lambda s: {"Authorization": "Bearer    "},
    "scheme glued to token": lambda s: {"Authorization": "Bearer" + signed(s, claims())},
    "basic scheme": lambda s: {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
    "token scheme with a valid jwt": lambda s: {"Authorization": f"Token {signed(s, claims())}"},
    "bare jwt without scheme": lambda s: {"Authorization": signed(s, claims())},
    "garbage token": lambda s: bearer("not-a-jwt"),
    "three garbage segments": lambda s: bearer("aaa.bbb.ccc"),
    "two tokens": lambda s: bearer(f"{signed(s, claims())} {signed(s, claims())}"),
    "expired token": lambda s: bearer(signed(s, claims(exp=_past(5)))),
    "not yet valid token": lambda s: bearer(signed(s, claims(nbf=_future(600)))),
    "exp not a number": lambda s: bearer(signed(s, claims(exp="tomorrow"))),
    "alg none": lambda s: bearer(unsigned(claims())),
    "alg None": lambda s: bearer(unsigned(claims(), alg="None")),
    "alg none admin": lambda s: bearer(unsigned(claims(role="admin"))),
    "alg HS256 without signature": lambda s: bearer(unsigned(claims(), alg="HS256")),
    "tampered claims": _swap_signature,
    "other secret": lambda s: {
        "Authorization": "Bearer " + jwt.encode(claims(), "some-other-secret", algorithm="HS256")
    },
    "hs512 with the right secret": lambda s: bearer(signed(s, claims(), "HS512")),
    "hs384 with the right secret": lambda s: bearer(signed(s, claims(), "HS384")),
    "rs256": lambda s: bearer(jwt.encode(claims(), rsa_private_key(), algorithm="RS256")),
    "missing exp": lambda s: bearer(signed(s, claims(exp=MISSING))),
    "missing sub": lambda s: bearer(signed(s, claims(sub=MISSING))),
    "missing role": lambda s: bearer(signed(s, claims(role=MISSING))),
    "sub letters": lambda s: bearer(signed(s, claims(sub="abc"))),
    "sub digits and letters": lambda s: bearer(signed(s, claims(sub="7a"))),
    "sub negative": lambda s: bearer(signed(s, claims(sub="-7"))),
    "sub plus sign": lambda s: bearer(signed(s, claims(sub="+7"))),
    "sub padded": lambda s: bearer(signed(s, claims(sub=" 7"))),
    "sub decimal": lambda s: bearer(signed(s, claims(sub="7.0"))),
    "sub underscore": lambda s: bearer(signed(s, claims(sub="7_0"))),
    "sub non-ascii digit": lambda s: bearer(signed(s, claims(sub="\u0667"))),
    "sub empty": lambda s: bearer(signed(s, claims(sub=""))),
    "sub zero": lambda s: bearer(signed(s, claims(sub="0"))),
    "sub above 2^63-1": lambda s: bearer(signed(s, claims(sub=str(2**63)))),
    "sub integer": lambda s: bearer(signed(s, claims(sub=USER))),
    "role service": lambda s: bearer(signed(s, claims(role="service"))),
    "role superuser": lambda s: bearer(signed(s, claims(role="superuser"))),
    "role Admin": lambda s: bearer(signed(s, claims(role="Admin"))),
    "role empty": lambda s: bearer(signed(s, claims(role=""))),
    "role null": lambda s: bearer(signed(s, claims(role=None))),
    "role number": lambda s: bearer(signed(s, claims(role=1))),
    "role list": lambda s: bearer(signed(s, claims(role=["admin"]))),
    "role object": lambda s: bearer(signed(s, claims(role={"name": "admin"}))),
    "unknown api key": lambda s: {"X-API-Key": "bk_" + "A" * 43},
    "garbage api key": lambda s: {"X-API-Key": "letmein"},
    "jwt as api key": lambda s: {"X-API-Key": signed(s, claims(role="admin"))},
    "bad api key with a valid bearer": lambda s: {
        "X-API-Key": "bk_unknown",
        **bearer(signed(s, claims())),
    },
}


@pytest.mark.parametrize("case", list(BAD_CREDENTIALS))
async def test_bad_credentials_are_401_on_every_route_and_change_nothing(
    client: httpx.AsyncClient, creds: Credentials, settings: Settings, case: str
) -> None:
    await fund(client, creds, USER, FUNDS)
    before = await ledger(client, creds, USER)
    headers = BAD_CREDENTIALS[case](settings)

    responses = {route: await call(client, route, USER, headers) for route in ROUTES}

    assert {route: r.status_code for route, r in responses.items()} == dict.fromkeys(ROUTES, 401)
    for response in responses.values():
        assert_unauthenticated(response)
    assert await ledger(client, creds, USER) == before


async def test_an_api_key_sent_as_a_bearer_token_is_401(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    key = (await creds.api_key("admin"))["X-API-Key"]
    assert_unauthenticated(await call(client, "balance", USER, bearer(key)))
    assert (await call(client, "balance", USER, {"X-API-Key": key})).status_code == 200


@pytest.mark.parametrize("role", ["service", "admin"])
async def test_a_revoked_api_key_is_401_within_a_second(
    client: httpx.AsyncClient, creds: Credentials, database: Database, role: Role
) -> None:
    await fund(client, creds, USER, FUNDS)
    headers = await creds.api_key(role)
    assert (await call(client, "balance", USER, headers)).status_code == 200

    async with database.sessions() as session, session.begin():
        revoked = await session.scalars(
            update(ApiKey)
            .where(ApiKey.key_hash == hash_api_key(headers["X-API-Key"]))
            .values(revoked_at=utcnow())
            .returning(ApiKey.id)
        )
        assert len(revoked.all()) == 1
    await asyncio.sleep(VERIFIED_KEY_SECONDS)  # the longest a process trusts what it verified

    before = await ledger(client, creds, USER)
    for route in ROUTES:
        assert_unauthenticated(await call(client, route, USER, headers))
    assert await ledger(client, creds, USER) == before


GOOD_BEARERS: dict[str, HeaderFactory] = {
    "issued by the service": lambda s: bearer(signed(s, claims())),
    "lowercase scheme": lambda s: {"Authorization": f"bearer {signed(s, claims())}"},
    "uppercase scheme": lambda s: {"Authorization": f"BEARER {signed(s, claims())}"},
    "extra registered claims": lambda s: bearer(
        signed(s, claims(iat=_past(10), nbf=_past(10), jti="abc"))
    ),
}


@pytest.mark.parametrize("case", list(GOOD_BEARERS))
async def test_well_formed_tokens_are_accepted(
    client: httpx.AsyncClient, settings: Settings, case: str
) -> None:
    """The control group: the 401s above come from the flaw, not from the harness."""
    response = await call(client, "balance", USER, GOOD_BEARERS[case](settings))
    assert response.status_code == 200, response.text
    assert response.json()["user_id"] == USER


# ---------------------------------------------------------------------------
# Authorization matrix: every role x every credit route

CallerFactory = Callable[[Credentials], Awaitable[dict[str, str]]]


async def _user_self(creds: Credentials) -> dict[str, str]:
    return creds.bearer(USER)


async def _user_other(creds: Credentials) -> dict[str, str]:
    return creds.bearer(OTHER)


async def _service_key(creds: Credentials) -> dict[str, str]:
    return await creds.api_key("service")


async def _admin_key(creds: Credentials) -> dict[str, str]:
    return await creds.api_key("admin")


async def _admin_jwt(creds: Credentials) -> dict[str, str]:
    return creds.bearer(1, "admin")


CALLERS: dict[str, CallerFactory] = {
    "user self": _user_self,
    "user other": _user_other,
    "service key": _service_key,
    "admin key": _admin_key,
    "admin jwt": _admin_jwt,
}
ALLOWED = {
    "user self": {"balance", "transactions", "spend"},
    "user other": set(),
    "service key": {"balance", "transactions", "spend"},
    "admin key": set(ROUTES),
    "admin jwt": set(ROUTES),
}
MATRIX = [
    pytest.param(caller, route, 200 if route in ALLOWED[caller] else 403, id=f"{caller}-{route}")
    for caller in CALLERS
    for route in ROUTES
]


@pytest.mark.parametrize(("caller", "route", "status"), MATRIX)
async def test_authorization_matrix(
    client: httpx.AsyncClient, creds: Credentials, caller: str, route: str, status: int
) -> None:
    await fund(client, creds, USER, FUNDS)
    await fund(client, creds, OTHER, FUNDS)
    balance_before, history_before = await ledger(client, creds, USER)
    other_before = await ledger(client, creds, OTHER)

    response = await call(client, route, USER, await CALLERS[caller](creds))

    balance_after, history_after = await ledger(client, creds, USER)
    if status == 403:
        body = assert_problem(response, 403, "forbidden")
        assert "balance" not in body
        assert "data" not in body
        assert (balance_after, history_after) == (balance_before, history_before)
    else:
        assert response.status_code == 200, response.text
        assert balance_after == balance_before + EFFECT[route]
        if route in {"add", "spend"}:
            assert response.json()["user_id"] == USER
            assert response.json()["balance"] == balance_after
            assert len(history_after) == len(history_before) + 1
        elif route == "balance":
            assert response.json()["balance"] == FUNDS
        else:
            assert response.json()["data"] == history_before
    assert await ledger(client, creds, OTHER) == other_before  # the bystander is untouched


@pytest.mark.parametrize("route", ["add", "spend"])
async def test_a_forbidden_request_with_an_idempotency_key_changes_nothing(
    client: httpx.AsyncClient, creds: Credentials, route: str
) -> None:
    await fund(client, creds, USER, FUNDS)
    before = await ledger(client, creds, USER)
    headers = {**creds.bearer(OTHER), "Idempotency-Key": f"forbidden-{route}"}

    for _ in range(2):  # the stored refusal replays; neither attempt moves money
        assert_problem(await call(client, route, USER, headers), 403, "forbidden")

    assert await ledger(client, creds, USER) == before


async def test_an_unauthenticated_request_is_401_before_its_body_is_judged(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(f"{CREDITS}/{USER}/spend", json={"amount": -1, "x": 1})
    assert_unauthenticated(response)


def test_user_ids_are_documented_with_their_bounds() -> None:
    """As JSON Schema's `minimum` and `maximum` (pydantic wrote `ge` and `le`, which no
    client or fuzzer reads, when the bounds came after the parsing validator)."""
    parameters = [
        parameter["schema"]
        for operation in documented_operations()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "user_id"
    ]
    assert len(parameters) >= 9
    for schema in parameters:
        integer = next(s for s in schema.get("anyOf", [schema]) if s.get("type") == "integer")
        assert (integer.get("minimum"), integer.get("maximum")) == (1, MAX_USER_ID), schema
