"""The API reference at `/docs`: Swagger UI on the OpenAPI document, working offline.

FastAPI's own docs pages load Swagger UI and ReDoc from a CDN: with no internet they are
blank. So the app turns them off (`docs_url=None`, `redoc_url=None`) and serves `/docs`
here instead, with Swagger UI from the npm package swagger-ui-dist, which the frontend
build copies to `dist/assets/swagger-ui/` (`frontend/scripts/swagger-ui.mjs`), served with
the web app's assets. Every URL the page loads is the service's own, behind a proxy's
prefix too; its one inline script, Swagger UI's start, is allowed by hash
(`security_headers.py`). Without a build, `/docs` says how to make one instead of
rendering blank. As with the web app, the build is looked for once, at startup.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse

from billing.http import frontend

DOCS_URL = "/docs"
SWAGGER_UI = "/assets/swagger-ui"  # in the build: dist/assets/swagger-ui/
SWAGGER_UI_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Billing: API reference not built</title>
</head><body><main><h1>The API reference needs the frontend build</h1>
<p>Swagger UI comes with the frontend build: make it with <code>make install</code> (or
<code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>), then start the service
again. Meanwhile the OpenAPI document is at <a href="openapi.json">openapi.json</a>.</p>
</main></body></html>
"""


def install_api_docs(app: FastAPI, dist: Path | None = None) -> None:
    """Serve `/docs` from the build's Swagger UI, or say how to build it."""
    dist = dist or frontend.FRONTEND_DIST
    folder = dist / "assets" / "swagger-ui"
    built = frontend.is_built(dist) and all((folder / name).is_file() for name in SWAGGER_UI_FILES)
    page = _swagger_ui(app) if built else _not_built
    app.add_api_route(DOCS_URL, page, methods=["GET"], include_in_schema=False)


def _swagger_ui(app: FastAPI) -> Callable[[Request], Awaitable[HTMLResponse]]:
    async def api_reference(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        assets = f"{root}{SWAGGER_UI}"
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API reference",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    return api_reference


async def _not_built() -> HTMLResponse:
    return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": "no-store"})
