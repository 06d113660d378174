"""Alerts: telling a person that something needs them."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from billing.core.config import Settings
from billing.obs.metrics import ALERTS

ALERT_TIMEOUT_SECONDS = 5


logger = structlog.get_logger(__name__)


@dataclass
class _AlertTarget:
    """Where alerts go (set once per process from the settings), and the POSTs in
    flight, referenced until done so none is garbage-collected mid-way."""

    url: str | None = None
    sending: set[asyncio.Task[None]] = field(default_factory=set)


_target = _AlertTarget()


def configure_alerts(settings: Settings) -> None:
    _target.url = settings.BILLING_ALERT_WEBHOOK_URL


def alert(kind: str, **details: str | int | None) -> None:
    """Tell a person something needs them: an error log line, and a JSON POST to
    `BILLING_ALERT_WEBHOOK_URL` sent in the background. Never raises, never blocks."""
    ALERTS.labels(kind).inc()
    logger.error("alert", alert=kind, details=details)
    url = _target.url
    if not url:
        return
    body = {"kind": kind, "details": details, "at": datetime.now(UTC).isoformat()}
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # called from synchronous code: send from a thread instead
        threading.Thread(target=asyncio.run, args=(_send(url, body),), daemon=True).start()
        return
    task = loop.create_task(_send(url, body))
    _target.sending.add(task)
    task.add_done_callback(_target.sending.discard)


async def _send(url: str, body: dict[str, Any]) -> None:
    try:
        async with httpx.AsyncClient(timeout=ALERT_TIMEOUT_SECONDS) as http:
            response = await http.post(url, json=body)
            response.raise_for_status()
    except Exception as exc:  # an alert never takes anything down; the URL (a token?) isn't logged
        logger.warning("alert_not_delivered", alert=body["kind"], error=type(exc).__name__)


async def drain_alerts() -> None:
    """Let alerts still in flight finish (each is bounded by its timeout), so a
    process that stops right after raising one still delivers it."""
    pending = {task for task in _target.sending if not task.done()}
    if pending:
        await asyncio.wait(pending, timeout=ALERT_TIMEOUT_SECONDS + 1)
