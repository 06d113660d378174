"""A keyed hash of each customer's normalised email, so that admins can find a user by
email although emails are encrypted (`core.encryption.email_lookups`). Rows stored before
it get theirs from `billing rotate-keys`, which reads every email anyway.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stripe_customers") as table:
        table.add_column(sa.Column("email_lookup", sa.String(64), nullable=True))
    op.create_index("ix_stripe_customers_email_lookup", "stripe_customers", ["email_lookup"])


def downgrade() -> None:
    op.drop_index("ix_stripe_customers_email_lookup", "stripe_customers")
    with op.batch_alter_table("stripe_customers") as table:
        table.drop_column("email_lookup")
