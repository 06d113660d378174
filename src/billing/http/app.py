"""The ASGI application: routers, middleware and the database's lifetime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from billing import __version__
from billing.auth.api_keys import KnownKeys
from billing.auth.tokens import VerifiedTokens
from billing.catalog.cache import CatalogCache
from billing.catalog.routes import router as catalog_router
from billing.compliance.jobs import periodic_jobs
from billing.compliance.routes import audit_router
from billing.compliance.routes import router as compliance_router
from billing.core import garbage
from billing.core.config import Settings, get_settings
from billing.credits.hold_routes import capture_hold, place_hold
from billing.credits.hold_routes import router as holds_router
from billing.credits.routes import router as credits_router
from billing.credits.routes import spend_credits, usage_router
from billing.db.engine import Database
from billing.db.replica import Reads
from billing.http.api_docs import DOCS_URL, install_api_docs
from billing.http.body_limit import BodySizeLimit
from billing.http.fast_lanes import FastLanes
from billing.http.frontend import install_frontend
from billing.http.health import router as health_router
from billing.http.ledger_metrics import count_ledger_operations
from billing.http.metrics import MetricsMiddleware, OverdueGauge
from billing.http.platform_webhooks import document_platform_webhooks
from billing.http.problem_docs import PROBLEM_RESPONSES, document_problems
from billing.http.problems import AnswerUnhandled, install_error_handlers
from billing.http.rate_limits import RateLimit, RateLimiter
from billing.http.request_id import RequestId
from billing.http.route_lanes import route_lanes
from billing.http.security_headers import SecurityHeaders
from billing.obs.alerts import configure_alerts
from billing.obs.logs import configure_logging
from billing.obs.metrics import count_replica_read
from billing.outbound.routes import deliveries_router as webhook_deliveries_router
from billing.outbound.routes import router as webhook_endpoints_router
from billing.payments.auto_topup.routes import router as credit_settings_router
from billing.payments.routes import router as payments_router
from billing.reporting.dashboard.routes import router as dashboard_router
from billing.reporting.routes import router as reporting_router
from billing.stripe.client import create_client
from billing.users.routes import router as users_router
from billing.webhooks.routes import admin_router as webhooks_admin_router
from billing.webhooks.routes import router as webhooks_router
from billing.webhooks.routes import stripe_webhook
from billing.webhooks.worker import worker_task

# On SIGTERM a server stops listening at once and finishes the requests in flight, for up
# to this long; then the app shuts down (the in-process worker finishing its batch).
DRAIN_SECONDS = 30.0


def server_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn runs the app, for `billing serve` and `billing demo` alike. Logging is
    ours (`configure_logging`): uvicorn's own config would replace it."""
    return {
        "loop": "uvloop",
        "http": "httptools",
        "log_config": None,
        "access_log": settings.STRIPE_DEBUG,
        "log_level": "debug" if settings.STRIPE_DEBUG else "warning",
        "timeout_graceful_shutdown": DRAIN_SECONDS,
    }


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    configure_alerts(settings)
    count_ledger_operations()
    database = Database(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """The in-process worker (embedded SQLite) runs while the app serves."""
        garbage.settle()  # what startup loaded lives as long as the process
        async with AsyncExitStack() as stack:
            app.state.worker = None
            if settings.run_worker:
                jobs = periodic_jobs(settings, database)
                worker = worker_task(settings, database, app.state.stripe, asyncio.Event(), jobs)
                app.state.worker = await stack.enter_async_context(worker)
            yield
        await app.state.reads.dispose()
        await database.dispose()

    app = FastAPI(
        title="Billing",
        version=__version__,
        description="Stripe payments and a prepaid credit ledger for SaaS platforms.",
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,
        # FastAPI's docs pages load their code from a CDN: ours works offline (api_docs.py).
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        # Metrics are Prometheus' (/metrics) and logs structlog's: FastAPI's OpenTelemetry
        # hooks would only look up, on every request, whether a provider is configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.database = database
    app.state.reads = Reads(database, settings, count_replica_read)
    app.state.verified_tokens = VerifiedTokens(settings)
    app.state.known_keys = KnownKeys()
    app.state.stripe = create_client(settings)
    app.state.catalog = CatalogCache()
    app.state.overdue = OverdueGauge(database)
    install_error_handlers(app)
    document_problems(app)
    document_platform_webhooks(app)
    app.include_router(health_router)
    app.include_router(credits_router)
    app.include_router(holds_router)
    app.include_router(usage_router)
    app.include_router(catalog_router)
    app.include_router(payments_router)
    app.include_router(credit_settings_router)
    app.include_router(reporting_router)
    app.include_router(dashboard_router)
    app.include_router(users_router)
    app.include_router(compliance_router)
    app.include_router(webhooks_router)
    app.include_router(webhooks_admin_router)
    app.include_router(audit_router)
    app.include_router(webhook_endpoints_router)
    app.include_router(webhook_deliveries_router)
    install_frontend(app, settings)  # after the API routers: `/` and `/assets` only
    install_api_docs(app)  # `/docs`, with Swagger UI from the frontend's build
    laned: list[Callable[..., Any]] = [spend_credits, place_hold, capture_hold, stripe_webhook]
    lanes = route_lanes(app.routes, laned)  # raises if unservable
    app.add_middleware(FastLanes, lanes=lanes)  # innermost
    app.add_middleware(BodySizeLimit)
    limiter = RateLimiter.from_settings(settings)
    tokens, keys = app.state.verified_tokens, app.state.known_keys
    app.add_middleware(RateLimit, limiter=limiter, tokens=tokens, keys=keys)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(AnswerUnhandled)
    app.add_middleware(RequestId)  # every response, even a 429, carries its id
    app.add_middleware(  # outermost: every response carries them
        SecurityHeaders, settings=settings, docs_paths=[DOCS_URL]
    )
    return app
