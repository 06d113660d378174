"""`billing-sandbox`: run the offline Stripe on a port, with its state in a directory."""

from __future__ import annotations

import logging

from aiohttp import web

from .app import build
from .config import parse_args


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, build the app and serve until interrupted."""
    settings = parse_args(argv)
    logging.basicConfig(level=logging.INFO if settings.verbose else logging.WARNING)
    app = build(settings)
    print(f"billing-sandbox: http://{settings.host}:{settings.port} data={settings.data_dir}")
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        access_log=logging.getLogger("aiohttp.access") if settings.verbose else None,
        print=None,
    )


if __name__ == "__main__":
    main()
