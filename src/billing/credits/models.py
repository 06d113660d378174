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
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from billing.db.types import Base, BigIntId, JSONDocument, UTCDateTime

FIRST_WALLET_ACCOUNT_ID = 1000


class CreditAccount(Base):
    __tablename__ = "credit_accounts"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'wallet' AND user_id IS NOT NULL AND name IS NULL"
            " AND balance IS NOT NULL AND balance >= 0)"
            " OR (kind = 'system' AND user_id IS NULL AND name IS NOT NULL AND balance IS NULL)",
            name="wallet_or_system",
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
    __tablename__ = "credit_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_nonzero"),
        Index("ix_credit_entries_account_transaction", "account_id", "transaction_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("credit_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("credit_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int | None] = mapped_column(BigInteger)
