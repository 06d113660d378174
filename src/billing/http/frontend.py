"""The demo web app at `/` and its development-only sign-in.

Installed after every API router, and only on `/` and `/assets/*` (the app routes with
`#/...` fragments), so no API path, 404 or 405 ever answers with the page. Without a
build, `/` says how to make one instead of failing. The sign-in answers only callers on
this machine: a development service reachable from elsewhere mints nobody a token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from ipaddress import IPv6Address, ip_address
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from billing.auth.tokens import issue_token
from billing.core.config import Settings
from billing.core.errors import NotFound
from billing.core.ids import MAX_USER_ID

FRONTEND_DIST = Path(__file__).resolve().parents[3] / "frontend" / "dist"
SIGN_IN_TTL = timedelta(hours=12)
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Billing: frontend not built</title></head>
<body><main><h1>The web app is not built yet</h1>
<p>Build it with <code>make install</code> (or <code>cd frontend &amp;&amp; npm ci &amp;&amp;
npm run build</code>), then start the service again. The API is served as usual:
see <a href="/docs">/docs</a>.</p></main></body></html>
"""


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Annotated[int, Field(strict=True, ge=1, le=MAX_USER_ID)]
    role: Literal["user", "admin"] = "user"


class SignedIn(BaseModel):
    token: str
    user_id: int
    role: Literal["user", "admin"]
    expires_at: datetime


def dev_sign_in_enabled(settings: Settings) -> bool:
    """Only while tokens are signed with the public development secret: anyone can mint
    those already, so the route gives nobody a power they lack. Never in production."""
    return settings.BILLING_ENV == "development" and settings.BILLING_JWT_SECRET is None


def from_this_machine(request: Request) -> bool:
    """The peer is a loopback address (127.0.0.0/8, ::1). Behind a proxy on this machine,
    that holds only if the proxy passes the client on in X-Forwarded-For (uvicorn trusts
    it from 127.0.0.1)."""
    host = request.client.host if request.client else ""
    try:
        address = ip_address(host)
    except ValueError:
        return False
    if isinstance(address, IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


async def only_this_machine(request: Request) -> None:
    """Anyone else gets the 404 of a service without the sign-in."""
    if not from_this_machine(request):
        raise NotFound()


dev_router = APIRouter(
    prefix="/api/dev", tags=["development"], dependencies=[Depends(only_this_machine)]
)


@dev_router.post("/sign-in", include_in_schema=False)
async def sign_in(body: SignIn, request: Request) -> SignedIn:
    """A token for the demo app's sign-in page: any user, or an admin."""
    settings: Settings = request.app.state.settings
    token = issue_token(settings, body.user_id, body.role, SIGN_IN_TTL)
    expires_at = datetime.now(UTC) + SIGN_IN_TTL
    return SignedIn(token=token, user_id=body.user_id, role=body.role, expires_at=expires_at)


def install_frontend(app: FastAPI, settings: Settings, dist: Path | None = None) -> None:
    """Serve the built app (call after the API routers) and, in development, the sign-in.
    The build is looked for once, here: after building, start the service again."""
    if dev_sign_in_enabled(settings):
        app.include_router(dev_router)
    dist = dist or FRONTEND_DIST
    index, assets = dist / "index.html", dist / "assets"
    if is_built(dist):
        app.add_api_route("/", _serve(index), methods=["GET"], include_in_schema=False)
        app.mount("/assets", StaticFiles(directory=assets), name="assets")
    else:
        app.add_api_route("/", _not_built, methods=["GET"], include_in_schema=False)


def is_built(dist: Path) -> bool:
    """Whether `install_frontend` serves this build: `/` and everything in `assets/`."""
    return (dist / "index.html").is_file() and (dist / "assets").is_dir()


def _serve(index: Path) -> Callable[[], Awaitable[Response]]:
    async def web_app() -> Response:
        """Revalidated on every load: a new build's asset names reach browsers at once."""
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return web_app


async def _not_built() -> Response:
    return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": "no-store"})
