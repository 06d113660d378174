"""Where a payment's customer copies are: Stripe's hosted invoice page and the charge's
receipt, found once from Stripe and kept (`payments.documents`).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as table:
        table.add_column(sa.Column("hosted_invoice_url", sa.Text(), nullable=True))
        table.add_column(sa.Column("receipt_url", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments") as table:
        table.drop_column("receipt_url")
        table.drop_column("hosted_invoice_url")
