"""An erased customer is no longer the user's: a user has one current (not erased)
customer, and may have erased ones, kept for the financial records their events touch.

`user_id` loses its unique constraint for a partial unique index over the rows not
erased, and keeps a plain index for the lookups of all of a user's customers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_ERASED = sa.text("erased_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("stripe_customers") as table:
        table.drop_constraint("uq_stripe_customers_user_id", type_="unique")
        table.create_index("ix_stripe_customers_user_id", ["user_id"])
        table.create_index(
            "ux_stripe_customers_current_user_id",
            ["user_id"],
            unique=True,
            sqlite_where=NOT_ERASED,
            postgresql_where=NOT_ERASED,
        )


def downgrade() -> None:
    """Only possible while no user has more than one customer row (none was erased and
    paid again): the unique constraint cannot hold otherwise."""
    with op.batch_alter_table("stripe_customers") as table:
        table.drop_index("ux_stripe_customers_current_user_id")
        table.drop_index("ix_stripe_customers_user_id")
        table.create_unique_constraint("uq_stripe_customers_user_id", ["user_id"])
