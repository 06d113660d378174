"""Fixtures of the fast lane tests: the full route beside the lane, and what a lane did."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from billing.core.config import Settings
from billing.http.fast_lanes import FastLanes, Lane
from tests.support.lanes import full_route_client


@pytest.fixture
async def full(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Like `client` (same database), with every request taking the full route."""
    async with full_route_client(settings) as http:
        yield http


@pytest.fixture
def lanes_did(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What a lane did with each request it matched: served, raised or passed on."""
    did: list[str] = []
    serve = FastLanes._serve

    async def watched_serve(self: FastLanes, route: Any, lane: Lane, *rest: Any) -> None:
        async def watched(request: Request, params: dict[str, Any]) -> Response | None:
            did.append("raised")
            response = await lane(request, params)
            did[-1] = "passed on" if response is None else "served"
            return response

        await serve(self, route, watched, *rest)

    monkeypatch.setattr(FastLanes, "_serve", watched_serve)
    return did
