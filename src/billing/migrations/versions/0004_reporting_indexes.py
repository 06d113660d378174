"""Indexes for the admin dashboard's range queries.

Each is a range on a time column; on PostgreSQL it also carries the columns the
dashboard sums or counts, so a year's figures come from index-only scans.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAYMENTS_INCLUDE = ["status", "currency", "amount", "amount_refunded", "amount_disputed"]
LEDGER_INCLUDE = ["id", "kind", "user_id", "amount"]
INBOX_INCLUDE = ["status", "processed_at"]


def upgrade() -> None:
    op.create_index(
        "ix_payments_created_at",
        "payments",
        ["created_at"],
        postgresql_include=PAYMENTS_INCLUDE,
    )
    op.create_index(
        "ix_credit_transactions_created_at",
        "credit_transactions",
        ["created_at"],
        postgresql_include=LEDGER_INCLUDE,
    )
    op.create_index(
        "ix_webhook_events_received_at",
        "webhook_events",
        ["received_at"],
        postgresql_include=INBOX_INCLUDE,
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_events_received_at", table_name="webhook_events")
    op.drop_index("ix_credit_transactions_created_at", table_name="credit_transactions")
    op.drop_index("ix_payments_created_at", table_name="payments")
