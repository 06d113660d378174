"""The ASGI application: routers, middleware and the database's lifetime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from billing import __version__
from billing.auth import VerifiedTokens
from billing.body_limit import BodySizeLimit
from billing.catalog.cache import CatalogCache
from billing.catalog.routes import router as catalog_router
from billing.config import Settings, get_settings
from billing.credits.routes import router as credits_router
from billing.db import Database
from billing.errors import install_error_handlers
from billing.health import router as health_router
from billing.observability import MetricsMiddleware, configure_alerts, configure_logging
from billing.payments.routes import router as payments_router
from billing.reporting.routes import router as reporting_router
from billing.stripe_api import create_client
from billing.webhooks.routes import admin_router as webhooks_admin_router
from billing.webhooks.routes import router as webhooks_router
from billing.worker_loop import worker_task


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    configure_alerts(settings)
    database = Database(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """The in-process worker (embedded SQLite) runs while the app serves."""
        async with AsyncExitStack() as stack:
            app.state.worker = None
            if settings.run_worker:
                worker = worker_task(settings, database, app.state.stripe, asyncio.Event())
                app.state.worker = await stack.enter_async_context(worker)
            yield
        await database.dispose()

    app = FastAPI(
        title="Billing",
        version=__version__,
        description="Stripe payments and a prepaid credit ledger for SaaS platforms.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.verified_tokens = VerifiedTokens(settings)
    app.state.stripe = create_client(settings)
    app.state.catalog = CatalogCache()
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(credits_router)
    app.include_router(catalog_router)
    app.include_router(payments_router)
    app.include_router(reporting_router)
    app.include_router(webhooks_router)
    app.include_router(webhooks_admin_router)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(MetricsMiddleware)
    return app
