"""The ledger's metrics, counted by listening to it: the ledger itself never calls out.

Wired once per process that posts credits: the app (`create_app`) and `billing worker`.
"""

from __future__ import annotations

from billing.credits.hooks import HOOKS
from billing.credits.transfers import Transfer
from billing.obs.metrics import CREDIT_OPERATIONS, INSUFFICIENT_CREDITS, series


def _count_posted(transfer: Transfer) -> None:
    series(CREDIT_OPERATIONS, transfer.kind.name).inc()


def _count_refused(transfer: Transfer) -> None:
    INSUFFICIENT_CREDITS.inc()


def count_ledger_operations() -> None:
    """Count every posting and every refused debit from now on (idempotent)."""
    HOOKS.on_posted(_count_posted)
    HOOKS.on_refused(_count_refused)
