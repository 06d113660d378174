"""Ledger tables.

Invariants (checked by `billing verify-ledger`, enforced where a database can):
- Every transaction has two or more entries and they sum to zero.
- A wallet's cached `balance` equals the sum of its entries and is never
  negative (conditional UPDATE first, CHECK constraint last).
- Each wallet entry records the wallet's balance right after it.
- Transactions and entries are never updated or deleted (database triggers);
  corrections are new transactions.
- System accounts keep no cached balance: theirs is the sum of their entries,
  so no system row becomes a hot spot that every spend must lock.
- Grants are the wallet's sub-accounts: every credit that enters a wallet opens one, and
  every wallet entry is split into grant entries saying which grants it moved. A grant's
  `remaining` equals the sum of its grant entries, stays within 0..amount, and the
  wallet's `balance` equals the sum of its active grants' `remaining`.
- `balance` is what the wallet holds, expired-but-not-yet-swept grants included; what can
  be spent is that less the grants whose `expires_at` has passed (`credits.balances`).
- A hold's credits are in the `held` system account from its `hold` transaction until its
  settlement takes them all out again: `held` holds exactly what active holds reserve.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    String,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from billing.db.types import Base, BigIntId, JSONDocument, UTCDateTime

FIRST_WALLET_ACCOUNT_ID = 1000
TOPUP_REQUESTED = text("topup_requested_at IS NOT NULL")


class CreditAccount(Base):
    __tablename__ = "credit_accounts"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'wallet' AND user_id IS NOT NULL AND name IS NULL"
            " AND balance IS NOT NULL AND balance >= 0)"
            " OR (kind = 'system' AND user_id IS NULL AND name IS NOT NULL AND balance IS NULL)",
            name="wallet_or_system",
        ),
        # The wallets whose auto top-up the worker has yet to start.
        Index(
            "ix_credit_accounts_topup_requested",
            "id",
            postgresql_where=TOPUP_REQUESTED,
            sqlite_where=TOPUP_REQUESTED,
        ),
    )

    id: Mapped[int] = mapped_column(
        BigIntId, Identity(start=FIRST_WALLET_ACCOUNT_ID), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    name: Mapped[str | None] = mapped_column(String(32), unique=True)
    balance: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # What a wallet watches for (`credits.watch`; migration 0018 keeps it on PostgreSQL).
    low_balance_threshold: Mapped[int | None] = mapped_column(BigInteger)
    alert_level: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    topup_threshold: Mapped[int | None] = mapped_column(BigInteger)  # while armed
    topup_pending: Mapped[bool] = mapped_column(server_default=false())
    topup_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    topup_resumes_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CreditTransaction(Base):
    __tablename__ = "credit_transactions"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # The dashboard's credit totals, top spenders and outstanding credits as of a past
        # day: index-only scans on PostgreSQL.
        Index(
            "ix_credit_transactions_created_at",
            "created_at",
            postgresql_include=["id", "kind", "user_id", "amount"],
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(320), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(100))
    reference: Mapped[str | None] = mapped_column(String(255), index=True)
    description: Mapped[str | None] = mapped_column(String(500))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONDocument)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CreditEntry(Base):
    """One side of a transaction, on one account. No foreign keys: each would share-lock
    the system account it names on every posting (migration 0014); `billing
    verify-ledger` proves every entry names an account and a transaction."""

    __tablename__ = "credit_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_nonzero"),
        Index("ix_credit_entries_account_transaction", "account_id", "transaction_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(BigIntId, index=True)
    account_id: Mapped[int] = mapped_column(BigIntId)
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int | None] = mapped_column(BigInteger)


ACTIVE, DEPLETED, EXPIRED, VOIDED = "active", "depleted", "expired", "voided"


class CreditGrant(Base):
    """Credits that entered a wallet together, spent in order and expiring together.

    `active` holds credits; `depleted` is empty (credits a hold returns make it active
    again); `expired` and `voided` are final and empty."""

    __tablename__ = "credit_grants"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_in_range"),
        CheckConstraint("priority BETWEEN 0 AND 100", name="priority_in_range"),
        CheckConstraint(
            "(status = 'active' AND remaining > 0) OR (status <> 'active' AND remaining = 0)",
            name="status_matches_remaining",
        ),
        # What a debit reads: the wallet's active grants, in consumption order.
        Index(
            "ix_credit_grants_spendable",
            "account_id",
            "priority",
            "expires_at",
            "created_at",
            "id",
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
        # What the expiry job reads: active grants by expiry time.
        Index(
            "ix_credit_grants_expiring",
            "expires_at",
            postgresql_where=text("status = 'active' AND expires_at IS NOT NULL"),
            sqlite_where=text("status = 'active' AND expires_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("credit_accounts.id"))
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    source: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    priority: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(255), index=True)
    # The transaction that opened it; none for balances carried over by migration 0011.
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("credit_transactions.id"))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CreditGrantEntry(Base):
    """A wallet entry's share that one grant moved: immutable, like entries.

    No foreign keys: each would lock a row per entry on the hottest paths (a usage batch
    writes thousands); `billing verify-ledger` proves every grant entry names a grant and
    a transaction, and sums to its wallet entry."""

    __tablename__ = "credit_grant_entries"
    __table_args__ = (CheckConstraint("amount <> 0", name="amount_nonzero"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    # None only for the opening line of a balance carried over by migration 0011.
    transaction_id: Mapped[int | None] = mapped_column(BigIntId, index=True)
    grant_id: Mapped[int] = mapped_column(BigIntId, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


HOLD_STATUSES = HOLD_ACTIVE, CAPTURED, RELEASED, HOLD_EXPIRED = (
    "active",
    "captured",
    "released",
    "expired",
)


class CreditHold(Base):
    """Credits reserved now and settled later: captured (in part), released, or released by
    the worker once `expires_at` has passed (`expired`). Settled once, never reopened."""

    __tablename__ = "credit_holds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("captured >= 0 AND captured <= amount", name="captured_in_range"),
        CheckConstraint(
            "(status = 'active' AND captured = 0 AND settled_at IS NULL"
            " AND settlement_transaction_id IS NULL)"
            " OR (status IN ('captured', 'released', 'expired') AND settled_at IS NOT NULL"
            " AND settlement_transaction_id IS NOT NULL"
            " AND (status = 'captured' OR captured = 0))",
            name="settled_once",
        ),
        # A user's holds, newest first (`GET .../holds?status=all`).
        Index("ix_credit_holds_user", "user_id", "id"),
        # A user's active holds: their list, and `held` in every balance read.
        Index(
            "ix_credit_holds_active",
            "user_id",
            "id",
            postgresql_include=["amount"],
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
        # What the worker releases: active holds by expiry time.
        Index(
            "ix_credit_holds_expiring",
            "expires_at",
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    account_id: Mapped[int] = mapped_column(ForeignKey("credit_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    captured: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    description: Mapped[str | None] = mapped_column(String(500))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONDocument)
    hold_transaction_id: Mapped[int] = mapped_column(
        ForeignKey("credit_transactions.id"), unique=True
    )
    settlement_transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("credit_transactions.id"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
