"""Disputes that moved money, and the credits each clawed back and gave back.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", BigIntId, primary_key=True),
        sa.Column("stripe_dispute_id", sa.String(255), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column("charge_id", sa.String(255), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("state_at", Timestamp, nullable=False),
        sa.Column("withdrawn_at", Timestamp, nullable=True),
        sa.Column("reinstated_at", Timestamp, nullable=True),
        sa.Column("credits_clawed_back", sa.BigInteger(), nullable=False),
        sa.Column("credits_unrecovered", sa.BigInteger(), nullable=False),
        sa.Column("credits_reinstated", sa.BigInteger(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.UniqueConstraint("stripe_dispute_id", name=op.f("uq_disputes_stripe_dispute_id")),
    )
    op.create_index("ix_disputes_payment_id", "disputes", ["payment_id"])


def downgrade() -> None:
    op.drop_index("ix_disputes_payment_id", table_name="disputes")
    op.drop_table("disputes")
