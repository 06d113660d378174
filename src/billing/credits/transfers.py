"""What the ledger is asked to do (a Transfer) and what it did (Posted).

A transfer moves credits between one user's wallet and one system account. A credit opens
a grant on its `grant` terms; a debit takes from the wallet's grants in consumption order
(the grants of `prefer_reference` first), or takes all that remains of one grant
(`grant_id`: expiry and void). Its audit
entry is described here, once, for both ways of posting it (`service` on SQLite,
`single_statement` on PostgreSQL); the posting adds the facts only it knows
(`POSTED_FACTS`: the transaction's id and the wallet's balance after it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from billing.audit.service import Entry, user_target
from billing.credits.accounts import TransactionKind
from billing.credits.grants import GrantTerms

POSTED_FACTS = ("transaction_id", "balance_after")


@dataclass(frozen=True, slots=True)
class Transfer:
    """A request to move `amount` credits between a user's wallet and a system account."""

    kind: TransactionKind
    user_id: int
    amount: int
    actor: str
    idempotency_key: str | None = None
    reference: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    grant: GrantTerms | None = None  # credits only; None: the kind's source, defaults
    prefer_reference: str | None = None  # debits: the grants of this reference go first
    grant_id: int | None = None  # debits of one whole grant; `amount` is then what it held

    @property
    def terms(self) -> GrantTerms:
        """The terms of the grant a credit opens."""
        if self.grant is not None:
            return self.grant
        assert self.kind.grant_source is not None, f"{self.kind.name} opens no grant"
        return GrantTerms(self.kind.grant_source)

    @property
    def expires_at(self) -> datetime | None:
        return self.grant.expires_at if self.grant is not None else None

    @property
    def fingerprint(self) -> str:
        """What must match for a replayed key to be the same operation."""
        if self.grant_id is not None:
            return f"{self.kind.name}:{self.user_id}:grant:{self.grant_id}"
        return f"{self.kind.name}:{self.user_id}:{self.amount}"

    @property
    def wallet_delta(self) -> int:
        return self.amount if self.kind.credits_wallet else -self.amount

    def audit_entry(self) -> Entry:
        """The audit entry of this transfer once posted, less the `POSTED_FACTS`."""
        return Entry(
            actor=self.actor,
            action=f"credit.{self.kind.name}",
            target=user_target(self.user_id),
            user_id=self.user_id,
            details={"amount": self.amount, "reference": self.reference},
        )


@dataclass(frozen=True, slots=True)
class Posted:
    transaction_id: int
    user_id: int
    amount: int
    balance: int
    created_at: datetime
    replayed: bool = False
    grant_id: int | None = None  # the grant a credit opened
