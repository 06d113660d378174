"""Logging setup: every log line of the process (ours, the Stripe SDK's, uvicorn's)
goes through one pipeline: redacted, then rendered as JSON in production, as text in
development.
"""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.typing import Processor

from billing.core import correlation
from billing.core.config import Settings
from billing.obs.redaction import redact_secrets

# One handler on the root logger for the process; its formatter follows the settings.
_handler = logging.StreamHandler(sys.stdout)


def configure_logging(settings: Settings) -> None:
    """Route every logger through `_handler`: structlog's (ours) and the standard
    library's (the Stripe SDK, uvicorn). `STRIPE_DEBUG` turns on debug logs of both
    this service and the SDK, plus uvicorn's access log (see `billing serve`)."""
    debug = settings.STRIPE_DEBUG
    production = settings.BILLING_ENV == "production"
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        correlation.add_to_log,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    # The same list, refilled: loggers already cached (and tests' `capture_logs`) hold it.
    processors: list[Processor] = structlog.get_config()["processors"]
    processors[:] = [*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter]
    structlog.configure(
        processors=processors,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.DEBUG if debug else logging.INFO
        ),
        cache_logger_on_first_use=True,
    )
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if production
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    _handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                redact_secrets,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)
    root.setLevel(logging.WARNING)  # libraries' info logs (httpx logs URLs) stay quiet
    logging.getLogger("billing").setLevel(logging.DEBUG)  # structlog's level decides
    # The SDK's own logger, never `stripe.log` (that prints past the redaction).
    logging.getLogger("stripe").setLevel(logging.DEBUG if debug else logging.WARNING)
    for name in ("uvicorn", "uvicorn.access"):  # uvicorn's handlers would skip redaction
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.captureWarnings(production)
