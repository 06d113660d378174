"""A hold past its `expires_at` can no longer be captured or released by a caller, swept
or not: it is the worker's to release (as a grant past its expiry is never spent).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0012 settled for the worker only once due; callers could settle at any time.
DUE_FOR_THE_WORKER = "OR (p_due AND v_hold.expires_at > p_now)"
DUE_FOR_ITS_SETTLER = "OR (p_due <> (v_hold.expires_at <= p_now))"


def _settle_function(due: str) -> str:
    holds = importlib.import_module("billing.migrations.versions.0012_credit_holds")
    source: str = holds.SETTLE_FUNCTION
    assert source.count(DUE_FOR_THE_WORKER) == 1, "0012's function is the one this edits"
    return source.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION").replace(
        DUE_FOR_THE_WORKER, due
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_settle_function(DUE_FOR_ITS_SETTLER))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_settle_function(DUE_FOR_THE_WORKER))
