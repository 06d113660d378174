"""Security headers on every response of the service.

The web app is the service's own files plus Stripe: Stripe.js from js.stripe.com, its
Elements in frames from js.stripe.com and hooks.stripe.com (3-D Secure), its calls to
api.stripe.com. The Content-Security-Policy allows that and nothing else: no inline or
foreign script can run, no plugin loads, and no other site may frame a page
(`frame-ancestors 'none'`, and `X-Frame-Options: DENY` for browsers without CSP 2).
Offline, Stripe.js is the sandbox's: its origin is allowed where Stripe's are, taken
from the URL the frontend is given (`GET /api/stripe/config`), so the two cannot differ.

The headers are built once per app and appended to each response's start: the spend
and webhook routes are hot paths. The API reference (`/docs`, Swagger UI served by the
service itself: api_docs.py) runs an inline script to start: it gets a policy of its
own, allowing exactly that inline script, by hash, and still nothing from elsewhere; it
is rare, so it is hashed as served.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing.core.config import Settings
from billing.http.middleware import HttpMiddleware, route_path
from billing.payments.portal import frontend_config

STRIPE_JS = "https://js.stripe.com"
Headers = list[tuple[bytes, bytes]]
# What the API reference loads: Swagger UI's script, stylesheet and favicon from the
# service, its icons as data: URLs, the OpenAPI document ("try it out" too) from the service.
DOCS_SOURCES = {
    "default-src": ["'none'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
}
LOCKED = {  # in every policy
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def app_policy(settings: Settings) -> str:
    """The web app's and the API's policy: the service itself and Stripe."""
    sandbox = _stripe_js_origin(settings)
    return _policy(
        {
            "default-src": ["'self'"],
            "script-src": ["'self'", STRIPE_JS, *sandbox],
            "frame-src": [STRIPE_JS, "https://hooks.stripe.com", *sandbox],
            "connect-src": ["'self'", "https://api.stripe.com", *sandbox],
            "img-src": ["'self'", "data:", "https://*.stripe.com"],
            "style-src": ["'self'"],  # the build's stylesheet; React sets styles via the DOM
        }
    )


def docs_policy(page: bytes) -> str:
    """A docs page's policy: the service, and each inline script of this page by hash."""
    hashes = [
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in INLINE_SCRIPT.findall(page)
    ]
    sources = dict(DOCS_SOURCES)
    sources["script-src"] = [*DOCS_SOURCES["script-src"], *hashes]
    return _policy(sources)


def security_headers(policy: str) -> Headers:
    return [
        (b"content-security-policy", policy.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
    ]


def _policy(sources: dict[str, list[str]]) -> str:
    return "; ".join(" ".join([name, *values]) for name, values in {**sources, **LOCKED}.items())


def _stripe_js_origin(settings: Settings) -> list[str]:
    """The origin Stripe.js is served from when it is not Stripe's (the sandbox)."""
    url = urlsplit(frontend_config(settings).stripe_js_url)
    origin = f"{url.scheme}://{url.netloc}"
    return [] if origin == STRIPE_JS else [origin]


class SecurityHeaders(HttpMiddleware):
    """Appends the security headers to every HTTP response; outermost, so that even a
    429 or an unhandled error's 500 carries them."""

    def __init__(self, app: ASGIApp, settings: Settings, docs_paths: Iterable[str]) -> None:
        super().__init__(app)
        self.headers = security_headers(app_policy(settings))
        self.docs_paths = frozenset(docs_paths)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if route_path(scope) in self.docs_paths:  # behind a proxy's prefix too
            await self._docs_page(scope, receive, send)
            return
        headers = self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs_page(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Holds the response's start until its body is complete, to hash its scripts."""
        start: Message = {}
        body: list[bytes] = []

        async def send_when_whole(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] != "http.response.body":
                await send(message)
            else:
                body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    page = b"".join(body)
                    headers = security_headers(docs_policy(page))
                    await send({**start, "headers": [*start.get("headers", ()), *headers]})
                    await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, send_when_whole)
