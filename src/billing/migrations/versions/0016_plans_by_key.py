"""The posting functions reach every row by key, whatever a table held when planned.

PL/pgSQL plans each statement once per connection and keeps the plan. Planned while a
table is small (a new install, `credit_holds` at the start of a busy day), a lookup by
id scans the table whole, and goes on doing so as it grows: settling holds ran 40%
slower under load for that alone (bench/holds.py). Every statement of these functions
finds its rows through an index, so a sequential scan is never the right plan for them.
A later `CREATE OR REPLACE` of either function drops the setting: set it again there.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYED_FUNCTIONS = ("credit_debit", "credit_hold_settle")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in KEYED_FUNCTIONS:
            op.execute(f"ALTER FUNCTION {function} SET enable_seqscan = off")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in KEYED_FUNCTIONS:
            op.execute(f"ALTER FUNCTION {function} RESET enable_seqscan")
