"""Assemble the sandbox: localstripe's aiohttp app with the sandbox's patches and routes."""

from __future__ import annotations

import importlib

from aiohttp import web
from localstripe import server
from localstripe.resources import store

from . import bank_debits, errors, events, idempotency, routing, shapes, storage
from .config import Settings
from .delivery import DELIVERER, Deliverer

# Importing these registers their routes and patches.
FEATURES = (
    "webhooks",
    "customers",
    "prices",
    "payment_methods",
    "charges",
    "bank_debits",
    "payments",
    "disputes",
    "invoice_api",
    "subscription_api",
    "clocks",
    "checkout",
    "checkout_flow",
    "payment_pages",
    "checkout_page",
    "portal",
    "documents",
    "stripejs",
    "dashboard",
)


async def _health(_: web.Request, __: dict[str, str]) -> web.Response:
    return web.Response(text="ok")


def build(settings: Settings) -> web.Application:
    """Patch localstripe for these settings and return its app, ready to run."""
    storage.install(settings.data_dir)
    store.try_load_from_disk()
    shapes.install()
    errors.install()
    deliverer = Deliverer(settings)
    events.install(deliverer.publish)
    for feature in FEATURES:
        module = importlib.import_module(f"{__package__}.{feature}")
        if hasattr(module, "install"):
            module.install()
    routing.page("GET", "/_config/health")(_health)
    app = server.app
    app[DELIVERER] = deliverer
    position = 1  # after localstripe's error middleware, before its auth
    app.middlewares[position:position] = [
        routing.request_context,
        idempotency.idempotency,
        routing.dispatch,
    ]

    async def answer_debits(_: web.Application) -> None:
        bank_debits.run(settings.async_payment_delay)

    app.on_startup.append(answer_debits)
    app.on_cleanup.append(deliverer.close)
    return app
