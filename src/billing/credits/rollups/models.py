"""The rollup tables: derived from the ledger, rebuilt from it at will."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from billing.db.types import Base


class CreditRollup(Base):
    """How far one rollup is summarized: every day up to `through` (None: not yet built)."""

    __tablename__ = "credit_rollups"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    through: Mapped[date | None] = mapped_column(Date)


class CreditDayTotal(Base):
    """Credits moved on one settled UTC day by one transaction kind (or `PROMOTIONAL_EXPIRY`)."""

    __tablename__ = "credit_day_totals"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(48), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class CreditSpendWindow(Base):
    """Credits one user spent in the `days` settled days ending on the rollup's `through`."""

    __tablename__ = "credit_spend_windows"
    # The window's biggest spenders first (read backwards).
    __table_args__ = (Index("ix_credit_spend_windows_spent", "days", "spent", "user_id"),)

    days: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    spent: Mapped[int] = mapped_column(BigInteger)
