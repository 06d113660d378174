"""The Stripe.js stand-in: localstripe's script, the sandbox's extension and its card Element."""

from __future__ import annotations

from pathlib import Path

import localstripe
from aiohttp import web

from . import routing

_LOCALSTRIPE_JS = Path(localstripe.__file__).with_name("localstripe-v3.js")
_EXTENSION_JS = Path(__file__).with_name("stripe-v3-extension.js")
# A card Element like Stripe's, in place of localstripe's: its rules, look and drawing, then
# the element itself, which wraps the extension's Stripe().
_CARD_ELEMENT_JS = tuple(
    Path(__file__).with_name(f"card-{part}.js") for part in ("rules", "look", "drawing", "element")
)


@routing.page("GET", "/js.stripe.com/v3/")
async def script(_: web.Request, __: dict[str, str]) -> web.Response:
    """Served where pages load https://js.stripe.com/v3/ from."""
    parts = (_LOCALSTRIPE_JS, _EXTENSION_JS, *_CARD_ELEMENT_JS)
    text = "\n".join(part.read_text() for part in parts)
    return web.Response(text=text, content_type="application/javascript")
