"""What the ledger tells whoever listens: a transfer was posted, or refused.

The ledger is called; it never calls out. Metrics, and later the platform's webhooks,
subscribe here (`billing.http.app` wires the metrics). A posting inside a caller's
transaction is announced once that transaction commits, never for a rollback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from billing.credits.transfers import Transfer

Listener = Callable[[Transfer], None]


@dataclass
class LedgerHooks:
    """Listeners of postings and of debits refused for want of credits."""

    posted: list[Listener] = field(default_factory=list)
    refused: list[Listener] = field(default_factory=list)

    def on_posted(self, listener: Listener) -> None:
        if listener not in self.posted:
            self.posted.append(listener)

    def on_refused(self, listener: Listener) -> None:
        if listener not in self.refused:
            self.refused.append(listener)

    def announce_posted(self, transfer: Transfer) -> None:
        for listener in self.posted:
            listener(transfer)

    def announce_refused(self, transfer: Transfer) -> None:
        for listener in self.refused:
            listener(transfer)


HOOKS = LedgerHooks()
