"""Payments summed per UTC day, currency and status (`payment_day_totals`), kept by
triggers on `payments` in the transaction that writes each payment, so the dashboard reads
a year of revenue from a few hundred rows. A payment's refunds and disputes change its
row long after its day: each change takes the row's old figures out of their group and
puts the new ones in. Filled here from the payments there are; `billing verify-ledger`
proves the table equals them.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from billing.migrations.summary_triggers import Summary

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _summary(dialect: str) -> Summary:
    if dialect == "postgresql":
        day_of, least = "({row}.created_at AT TIME ZONE 'UTC')::date", "LEAST"
    else:  # SQLite stores times as naive UTC text
        day_of, least = "date({row}.created_at)", "MIN"
    return Summary(
        name="payment_day_totals",
        source="payments",
        key={"day": day_of, "currency": "{row}.currency", "status": "{row}.status"},
        values={
            "count": "{sign}",
            "amount": "{sign} * {row}.amount",
            "reversed": (
                "{sign} * " + least + "({row}.amount_refunded + {row}.amount_disputed,"
                " {row}.amount)"
            ),
        },
        counted="{row}.status IN ('succeeded', 'failed')",
        changed=(
            "status",
            "currency",
            "amount",
            "amount_refunded",
            "amount_disputed",
            "created_at",
        ),
    )


def upgrade() -> None:
    op.create_table(
        "payment_day_totals",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reversed", sa.BigInteger(), nullable=False),
    )
    summary = _summary(op.get_bind().dialect.name)
    # Triggers first: creating one locks out writers until the migration commits, so
    # the fill sees every row written before, and none is written between.
    for statement in summary.triggers(op.get_bind().dialect.name):
        op.execute(statement)
    op.execute(summary.fill())


def downgrade() -> None:
    for statement in _summary(op.get_bind().dialect.name).drop(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("payment_day_totals")
