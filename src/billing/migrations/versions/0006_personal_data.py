"""Personal data on the customer mirror: email and name, encrypted at rest, and the
time they were erased.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stripe_customers") as table:
        table.add_column(sa.Column("email_encrypted", sa.Text(), nullable=True))
        table.add_column(sa.Column("name_encrypted", sa.Text(), nullable=True))
        table.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stripe_customers") as table:
        table.drop_column("erased_at")
        table.drop_column("name_encrypted")
        table.drop_column("email_encrypted")
