"""The app without its fast lanes: every request takes the full route, to compare."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import httpx
from fastapi import FastAPI

from billing.core.config import Settings
from billing.http.fast_lanes import FastLanes
from tests.conftest import asgi_client


@asynccontextmanager
async def full_route_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """conftest's in-process client, for an app without FastLanes (taken out before its
    middleware stack is built, on the first request)."""
    async with asgi_client(settings) as http:
        app = http._transport.app  # type: ignore[attr-defined]
        assert isinstance(app, FastAPI)
        assert app.middleware_stack is None
        without = [m for m in app.user_middleware if cast(object, m.cls) is not FastLanes]
        assert len(without) == len(app.user_middleware) - 1
        app.user_middleware = without
        yield http
