"""Handlers for invoices events (being written)."""

from __future__ import annotations

from billing.webhooks.handlers.context import EventHandler

HANDLERS: dict[str, EventHandler] = {}
