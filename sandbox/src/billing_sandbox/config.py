"""Run-time settings of one sandbox process, parsed from the command line."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

# Stripe retries for three days with exponential backoff; the sandbox keeps the shape of that
# schedule but compresses it into minutes so a developer sees retries happen.
DEFAULT_RETRY_DELAYS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 240.0)


@dataclass(frozen=True)
class Settings:
    """Everything a sandbox process needs to know at start-up."""

    port: int
    data_dir: Path
    host: str = "127.0.0.1"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    webhook_timeout: float = 10.0
    async_payment_delay: float = 3.0
    verbose: bool = False


def _delays(text: str) -> tuple[float, ...]:
    """Parse `1,5,30` into retry delays in seconds."""
    return tuple(float(part) for part in text.split(",") if part.strip())


def parse_args(argv: list[str] | None = None) -> Settings:
    """Build Settings from `billing-sandbox` arguments."""
    parser = argparse.ArgumentParser(
        prog="billing-sandbox", description="An offline Stripe: localstripe extended."
    )
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--data-dir", type=Path, required=True, help="where state is kept")
    parser.add_argument("--webhook", dest="webhook_url", help="URL receiving every event")
    parser.add_argument("--webhook-secret", help="whsec_... signing secret for --webhook")
    parser.add_argument(
        "--webhook-retry-delays",
        type=_delays,
        default=DEFAULT_RETRY_DELAYS,
        help="comma-separated seconds between delivery retries",
    )
    parser.add_argument("--webhook-timeout", type=float, default=10.0)
    parser.add_argument(
        "--async-payment-delay",
        type=float,
        default=3.0,
        help="seconds before a bank debit (sepa_debit, us_bank_account) succeeds or fails",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if args.webhook_url and not args.webhook_secret:
        parser.error("--webhook needs --webhook-secret")
    return Settings(
        port=args.port,
        data_dir=args.data_dir,
        host=args.host,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        retry_delays=args.webhook_retry_delays,
        webhook_timeout=args.webhook_timeout,
        async_payment_delay=args.async_payment_delay,
        verbose=args.verbose,
    )
