"""`credit_lapsed` in PL/pgSQL, which keeps its query's plan for the session.

As a SQL function that cannot be inlined (it aggregates), it was planned anew on every
call, and every posting calls it: the answer of a credit, each spend of a group commit,
each settlement, and the wallet trigger (0018). Measured with pgbench on this machine,
the call alone went from about 9,000 to 14,000 per second (docs/performance.md).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LAPSED_FUNCTION = """
CREATE OR REPLACE FUNCTION credit_lapsed(p_account bigint, p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT COALESCE(SUM(remaining), 0)::bigint FROM credit_grants
            WHERE account_id = p_account AND status = 'active' AND expires_at <= p_now);
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(LAPSED_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        grants = importlib.import_module("billing.migrations.versions.0011_credit_grants")
        op.execute(grants.LAPSED_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
