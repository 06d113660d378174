"""The shape of the service's own ASGI middleware."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


def route_path(scope: Scope) -> str:
    """The path the app's routes match: the request's path without the prefix a proxy
    mounts the app at (ASGI `root_path`). Every middleware that acts by path uses it, so
    behind a prefix the webhook keeps its body limit and its rate-limit bucket."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root + "/") else path


class HttpMiddleware:
    """ASGI middleware that acts on HTTP requests (`handle`); anything else, the lifespan
    messages for one, passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError
