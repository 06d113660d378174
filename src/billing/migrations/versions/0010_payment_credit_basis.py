"""What a payment's credits were bought for, when more than the amount it collected.

An invoice paid partly from the customer's balance grants its plan's credits for its
whole total; a refund of the card's part must take back only that part's share.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as table:
        table.add_column(sa.Column("credit_basis", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments") as table:
        table.drop_column("credit_basis")
