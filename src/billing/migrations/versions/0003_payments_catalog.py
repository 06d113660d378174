"""Stripe mirrors: customers, subscriptions, payments, and the catalog.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
Document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _stripe_id(name: str, nullable: bool = True) -> sa.Column[str]:
    return sa.Column(name, sa.String(255), nullable=nullable)


def _money(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "stripe_customers",
        sa.Column("id", BigIntId, primary_key=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        _stripe_id("stripe_customer_id", nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.UniqueConstraint("user_id", name=op.f("uq_stripe_customers_user_id")),
        sa.UniqueConstraint(
            "stripe_customer_id", name=op.f("uq_stripe_customers_stripe_customer_id")
        ),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", BigIntId, primary_key=True),
        _stripe_id("stripe_subscription_id", nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        _stripe_id("stripe_customer_id", nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        _stripe_id("price_id"),
        _stripe_id("product_id"),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=True),
        _money("unit_amount", nullable=True),
        sa.Column("interval", sa.String(16), nullable=True),
        sa.Column("interval_count", sa.Integer(), nullable=True),
        sa.Column("current_period_start", Timestamp, nullable=True),
        sa.Column("current_period_end", Timestamp, nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("canceled_at", Timestamp, nullable=True),
        sa.Column("ended_at", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("state_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.UniqueConstraint(
            "stripe_subscription_id", name=op.f("uq_subscriptions_stripe_subscription_id")
        ),
    )
    op.create_index("ix_subscriptions_user_id", "subscriptions", ["user_id"])
    op.create_index("ix_subscriptions_stripe_customer_id", "subscriptions", ["stripe_customer_id"])
    op.create_table(
        "payments",
        sa.Column("id", BigIntId, primary_key=True),
        _stripe_id("stripe_id", nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        _money("amount"),
        sa.Column("currency", sa.String(3), nullable=False),
        _money("credits"),
        _money("amount_refunded"),
        _money("amount_disputed"),
        _money("credits_clawed_back"),
        _money("credits_unrecovered"),
        _stripe_id("payment_intent_id"),
        _stripe_id("charge_id"),
        _stripe_id("invoice_id"),
        _stripe_id("subscription_id"),
        sa.Column("failure_code", sa.String(64), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.UniqueConstraint("stripe_id", name=op.f("uq_payments_stripe_id")),
    )
    op.create_index("ix_payments_user_id", "payments", ["user_id"])
    op.create_index("ix_payments_payment_intent_id", "payments", ["payment_intent_id"])
    op.create_index("ix_payments_charge_id", "payments", ["charge_id"])
    op.create_table(
        "catalog_products",
        _stripe_id("stripe_id", nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _money("credits", nullable=True),
        sa.Column("metadata", Document, nullable=False),
        sa.Column("state_at", Timestamp, nullable=False),
        sa.Column("synced_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("stripe_id", name=op.f("pk_catalog_products")),
    )
    op.create_table(
        "catalog_prices",
        _stripe_id("stripe_id", nullable=False),
        _stripe_id("product_id", nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        _money("unit_amount", nullable=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("interval", sa.String(16), nullable=True),
        sa.Column("interval_count", sa.Integer(), nullable=True),
        _money("credits", nullable=True),
        sa.Column("nickname", sa.String(255), nullable=True),
        sa.Column("metadata", Document, nullable=False),
        sa.Column("state_at", Timestamp, nullable=False),
        sa.Column("synced_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("stripe_id", name=op.f("pk_catalog_prices")),
    )
    op.create_index("ix_catalog_prices_product_id", "catalog_prices", ["product_id"])
    op.create_table(
        "catalog_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO catalog_version (id, version) VALUES (1, 0)")


def downgrade() -> None:
    for table in (
        "catalog_version",
        "catalog_prices",
        "catalog_products",
        "payments",
        "subscriptions",
        "stripe_customers",
    ):
        op.drop_table(table)
