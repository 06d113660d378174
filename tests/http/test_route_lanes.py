"""Lanes compiled from routes (billing/http/route_lanes.py): a declaration the lane cannot
follow as FastAPI does stops the app at startup; one it can is followed to the letter
(dependencies in FastAPI's order and cached as there, the `Response` parameter, the
response model); and the lane reads JSON as FastAPI does.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path as FilePath
from typing import Annotated, Any

import httpx
import orjson
import pytest
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Body,
    Cookie,
    Depends,
    FastAPI,
    Header,
    Path,
    Query,
    Security,
)
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer, SecurityScopes
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from billing.core.config import Settings
from billing.credits.routes import router as credits_router
from billing.credits.routes import spend_credits
from billing.http.app import create_app
from billing.http.fast_lanes import FastLanes
from billing.http.problems import install_error_handlers
from billing.http.route_lanes import NOT_JSON, UnsupportedRoute, read_json, route_lanes
from billing.idempotency.route import IdempotentRoute

CALLS: list[str] = []


class Thing(BaseModel):
    n: int


class Made(BaseModel):
    n: int
    thing_id: int
    hidden: str = "not shown"


async def first(request: Request) -> str:
    CALLS.append("first")
    return "f"


async def second(thing_id: Annotated[int, Path(ge=1)], f: Annotated[str, Depends(first)]) -> str:
    CALLS.append(f"second {thing_id} {f}")
    return "s"


async def uncached(f: Annotated[str, Depends(first, use_cache=False)]) -> str:
    CALLS.append("uncached")
    return "u"


async def keyword_only(*, thing_id: Annotated[int, Path(ge=1)]) -> str:
    CALLS.append(f"keyword_only {thing_id}")
    return "k"


async def guard(request: Request) -> None:
    CALLS.append("guard")


async def make(
    thing_id: Annotated[int, Path(ge=1)],
    thing: Thing,
    response: Response,
    s: Annotated[str, Depends(second)],
    u: Annotated[str, Depends(uncached)],
    f: Annotated[str, Depends(first)],
    k: Annotated[str, Depends(keyword_only)],
) -> Any:
    CALLS.append("make")
    if thing.n == 13:
        return {"n": "not a number"}  # fails the response model: a 500
    if thing.n > 10:
        response.status_code = 201
    response.headers["x-made"] = s + u + f + k
    return Made(n=thing.n, thing_id=thing_id)


def things_app(*, lanes: bool) -> FastAPI:
    router = APIRouter(dependencies=[Depends(guard)])
    declared = {"status_code": 202, "response_model": Made, "response_model_exclude": {"hidden"}}
    router.post("/things/{thing_id}", **declared)(make)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    if lanes:
        app.add_middleware(FastLanes, lanes=route_lanes(app.routes, [make]))
    return app


@pytest.fixture
async def things() -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Clients of one route's app with its lane, and of the same app without."""
    clients = []
    for lanes in (True, False):
        transport = httpx.ASGITransport(app=things_app(lanes=lanes), raise_app_exceptions=False)
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://things.test"))
    yield clients[0], clients[1]
    for client in clients:
        await client.aclose()


async def call(http: httpx.AsyncClient, path: str, body: Any) -> tuple[Any, ...]:
    CALLS.clear()
    response = await http.post(path, json=body)
    headers = sorted((k, v) for k, v in response.headers.items())
    return response.status_code, headers, response.json(), list(CALLS)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/things/3", {"n": 1}),
        ("/things/3", {"n": 11}),  # the endpoint sets the status
        ("/things/3", {"n": 13}),  # the endpoint's answer fails its response model
        ("/things/0", {"n": 1}),  # invalid path: passed on
        ("/things/3", {"n": "x"}),  # invalid body: passed on
        ("/things/x", []),
    ],
)
async def test_a_lane_calls_the_dependencies_as_fastapi_does(
    things: tuple[httpx.AsyncClient, httpx.AsyncClient], path: str, body: Any
) -> None:
    laned, full = things
    assert await call(laned, path, body) == await call(full, path, body)


async def test_the_dependencies_run_in_fastapis_order_and_cache(
    things: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    status, headers, made, calls = await call(things[0], "/things/3", {"n": 1})
    assert (status, made, ("x-made", "sufk")) == (202, {"n": 1, "thing_id": 3}, headers[-1])
    assert calls == ["guard", "first", "second 3 f", "first", "uncached", "keyword_only 3", "make"]


async def test_a_dependency_override_takes_the_full_route(
    things: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    async def overridden(request: Request) -> str:
        CALLS.append("overridden")
        return "o"

    for http in things:
        http._transport.app.dependency_overrides[first] = overridden  # type: ignore[attr-defined]
    laned, full = [await call(http, "/things/3", {"n": 1}) for http in things]
    assert laned == full
    assert "overridden" in laned[3]


async def with_header(x: Annotated[str, Header()]) -> str:
    return x


async def generator() -> Iterator[str]:
    yield "g"


def sync_dependency() -> str:
    return "s"


class Dependency:
    async def __call__(self) -> str:
        return "c"


async def scoped(scopes: SecurityScopes) -> str:
    return " ".join(scopes.scopes)


async def uses_header(x: Annotated[str, Depends(with_header)]) -> str:
    return x


UNSUPPORTED: dict[str, tuple[str, Any]] = {
    "a header parameter": ("takes a header", Annotated[str, Header()]),
    "a query parameter": ("takes a query", Annotated[str, Query()]),
    "a cookie": ("takes a cookie", Annotated[str, Cookie()]),
    "a dependency on a header": ("takes a header", Annotated[str, Depends(uses_header)]),
    "a generator dependency": ("not an async def", Annotated[str, Depends(generator)]),
    "a sync dependency": ("not an async def", Annotated[str, Depends(sync_dependency)]),
    "a callable object": ("not an async def", Annotated[str, Depends(Dependency())]),
    "a security scheme": ("not an async def", Annotated[Any, Depends(HTTPBearer())]),
    "security scopes": ("security scopes", Annotated[str, Security(first, scopes=["a"])]),
    "SecurityScopes": ("SecurityScopes", Annotated[str, Depends(scoped)]),
    "BackgroundTasks": ("BackgroundTasks", BackgroundTasks),
    "a second body": ("more than one body", Annotated[int, Body()]),
    "a scoped dependency": ("dependency scope", Annotated[str, Depends(first, scope="request")]),
}


def endpoint_taking(extra: Any) -> Callable[..., Any]:
    async def endpoint(
        thing_id: Annotated[int, Path()], thing: Thing, request: Request, extra: Any
    ) -> Thing:
        return thing

    endpoint.__annotations__["extra"] = extra
    return endpoint


def lanes_for(
    endpoint: Callable[..., Any], route_class: type[APIRoute] = APIRoute, **kw: Any
) -> None:
    router = APIRouter(route_class=route_class)
    router.post("/things/{thing_id}", **kw)(endpoint)
    app = FastAPI()
    app.include_router(router)
    route_lanes(app.routes, [endpoint])


@pytest.mark.parametrize("declared", UNSUPPORTED, ids=list(UNSUPPORTED))
def test_a_lane_refuses_a_route_declaring_what_it_cannot_resolve(declared: str) -> None:
    message, annotation = UNSUPPORTED[declared]
    with pytest.raises(UnsupportedRoute, match=message):
        lanes_for(endpoint_taking(annotation))


def test_a_lane_refuses_a_route_it_cannot_answer_as_fastapi() -> None:
    with pytest.raises(UnsupportedRoute, match="route class"):
        lanes_for(make, type("Custom", (APIRoute,), {}))
    with pytest.raises(UnsupportedRoute, match="response class"):
        lanes_for(make, response_class=Response)
    with pytest.raises(UnsupportedRoute, match="JSON-bodied"):
        lanes_for(first, IdempotentRoute)

    def sync_endpoint(thing: Thing) -> Thing:
        return thing

    with pytest.raises(UnsupportedRoute, match="not an async def"):
        lanes_for(sync_endpoint)


async def needs_header(x: Annotated[str, Header()]) -> None:
    return None


async def cleanup() -> AsyncIterator[None]:
    yield


@pytest.mark.parametrize(
    "dependency", [needs_header, cleanup, sync_dependency], ids=["header", "yield", "sync"]
)
def test_the_app_does_not_start_with_a_spend_dependency_its_lane_would_skip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: FilePath, dependency: Callable[..., Any]
) -> None:
    route = next(r for r in credits_router.routes if getattr(r, "endpoint", None) is spend_credits)
    assert isinstance(route, APIRoute)
    monkeypatch.setattr(route, "dependencies", [*route.dependencies, Depends(dependency)])
    settings = Settings(
        _env_file=None,
        BILLING_ENV="development",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/b.db",
    )
    with pytest.raises(UnsupportedRoute, match=dependency.__name__):
        create_app(settings)


def same(one: Any, other: Any) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0 here)."""
    if type(one) is not type(other):
        return False
    if isinstance(one, dict):
        return list(one) == list(other) and all(same(one[k], other[k]) for k in one)
    if isinstance(one, list):
        return len(one) == len(other) and all(map(same, one, other))
    return bool(one == other or (isinstance(one, float) and math.isnan(one) and math.isnan(other)))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
TOKENS = [b"{", b"}", b"[", b"]", b",", b":", b'"', b"\\", b"u", b"d800", b"0", b"1", b"9", b"-"]
TOKENS += [b".", b"e", b" ", b"\n", b"\x00", b"\x7f", b"\xc3\xa9", b"\xed\xa0\x80", b"\xff"]
TOKENS += [b"\xef\xbb\xbf", b"true", b"null", b"NaN", b'"amount"', b"12345678901234567890"]
TOKENS += [b"18446744073709551616", b"1e400", b"00", b"\\ud83d\\ude00"]


@given(
    st.one_of(
        JSON_VALUES.map(
            lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")
        ),
        st.lists(st.sampled_from(TOKENS), max_size=20).map(b"".join),
    )
)
def test_the_lane_reads_json_as_fastapi_does(body: bytes) -> None:
    """Where orjson reads a body (else the lane passes it on), the lane's value is
    `json.loads`'s (FastAPI's), big integers included."""
    value = read_json(body)
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        assert value is NOT_JSON
    else:
        assert same(value, json.loads(body))
