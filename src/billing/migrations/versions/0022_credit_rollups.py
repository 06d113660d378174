"""Closed-day summaries of the ledger (`credits.rollups`): credits per day and kind, and
what each user spent in windows of 7, 30, 90 and 365 days. Empty here: the worker's
`ledger_rollups` job builds them, and until it has, readers sum the ledger itself.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_rollups",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("through", sa.Date(), nullable=True),
    )
    op.create_table(
        "credit_day_totals",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("kind", sa.String(48), primary_key=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "credit_spend_windows",
        sa.Column("days", sa.SmallInteger(), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), primary_key=True),
        sa.Column("spent", sa.BigInteger(), nullable=False),
    )
    op.create_index(
        "ix_credit_spend_windows_spent", "credit_spend_windows", ["days", "spent", "user_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_credit_spend_windows_spent", "credit_spend_windows")
    op.drop_table("credit_spend_windows")
    op.drop_table("credit_day_totals")
    op.drop_table("credit_rollups")
