"""The subscriptions live now, summed per currency and billing interval
(`subscription_plan_totals`: how many, how many paid for, what those cost per interval),
kept by triggers on `subscriptions` in the writing transaction; and the indexes that find
the subscriptions that started or ended in a range. With them the dashboard reads the
plans of a range ending today from a few rows. Filled here from the subscriptions there
are; `billing verify-ledger` proves the table equals them.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from billing.migrations.summary_triggers import Summary

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAYING = "{row}.status NOT IN ('trialing', 'paused', 'unpaid') AND {row}.unit_amount IS NOT NULL"
SUMMARY = Summary(
    name="subscription_plan_totals",
    source="subscriptions",
    key={
        "currency": "COALESCE({row}.currency, '')",
        "interval": "COALESCE({row}.\"interval\", '')",
        "interval_count": "COALESCE({row}.interval_count, 0)",
    },
    values={
        "live": "{sign}",
        "paying": "{sign} * CASE WHEN " + PAYING + " THEN 1 ELSE 0 END",
        "recurring": (
            "{sign} * CASE WHEN " + PAYING + " THEN {row}.unit_amount * {row}.quantity ELSE 0 END"
        ),
    },
    counted="{row}.status NOT IN ('incomplete', 'incomplete_expired') AND {row}.ended_at IS NULL",
    changed=(
        "status",
        "currency",
        "interval",
        "interval_count",
        "unit_amount",
        "quantity",
        "ended_at",
    ),
)


def upgrade() -> None:
    op.create_table(
        "subscription_plan_totals",
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("interval", sa.String(16), primary_key=True),
        sa.Column("interval_count", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("live", sa.BigInteger(), nullable=False),
        sa.Column("paying", sa.BigInteger(), nullable=False),
        sa.Column("recurring", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_subscriptions_created_at", "subscriptions", ["created_at"])
    op.create_index("ix_subscriptions_ended_at", "subscriptions", ["ended_at"])
    # Triggers first: creating one locks out writers until the migration commits, so
    # the fill sees every row written before, and none is written between.
    for statement in SUMMARY.triggers(op.get_bind().dialect.name):
        op.execute(statement)
    op.execute(SUMMARY.fill())


def downgrade() -> None:
    for statement in SUMMARY.drop(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_index("ix_subscriptions_ended_at", "subscriptions")
    op.drop_index("ix_subscriptions_created_at", "subscriptions")
    op.drop_table("subscription_plan_totals")
