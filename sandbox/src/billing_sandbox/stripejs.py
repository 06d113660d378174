"""The Stripe.js stand-in: localstripe's script plus the sandbox's extension."""

from __future__ import annotations

from pathlib import Path

import localstripe
from aiohttp import web

from . import routing

_LOCALSTRIPE_JS = Path(localstripe.__file__).with_name("localstripe-v3.js")
_EXTENSION_JS = Path(__file__).with_name("stripe-v3-extension.js")


@routing.page("GET", "/js.stripe.com/v3/")
async def script(_: web.Request, __: dict[str, str]) -> web.Response:
    """Served where pages load https://js.stripe.com/v3/ from."""
    text = _LOCALSTRIPE_JS.read_text() + "\n" + _EXTENSION_JS.read_text()
    return web.Response(text=text, content_type="application/javascript")
