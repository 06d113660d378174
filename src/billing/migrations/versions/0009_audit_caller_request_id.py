"""The audit log keeps the caller's own `X-Request-ID` in `caller_request_id`, beside the
`request_id` the server minted: a caller may send any id, so it is never the request's.

The append-only triggers of 0005 name the columns sealing may not change; they are
recreated to name the new one too. Existing entries get null, which their hashes never
covered (the hash covers the caller's id only when there is one), so the chain holds.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Everything but the three columns the sealer sets once, before and after.
CONTENT_0005 = ("id", "created_at", "actor", "action", "target", "user_id", "request_id", "details")
CONTENT = (*CONTENT_0005, "caller_request_id")
REFUSED = "audit entries are append-only: only sealing may change one, once"


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("caller_request_id", sa.String(64), nullable=True))
    _guard_sealing(CONTENT)


def downgrade() -> None:
    _guard_sealing(CONTENT_0005)  # first: SQLite drops no column a trigger names
    op.drop_column("audit_log", "caller_request_id")


def _guard_sealing(content: tuple[str, ...]) -> None:
    """Let sealing set seq, prev_hash and hash once, and change none of `content`."""
    if op.get_bind().dialect.name == "postgresql":
        new = ", ".join(f"NEW.{column}" for column in content)
        old = ", ".join(f"OLD.{column}" for column in content)
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger"
            " LANGUAGE plpgsql AS $$"
            " BEGIN"
            "  IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL"
            f"     AND ({new}) IS NOT DISTINCT FROM ({old}) THEN RETURN NEW; END IF;"
            f"  RAISE EXCEPTION '{REFUSED} (% refused)', TG_OP;"
            " END $$"
        )
        return
    changed = " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in content)
    op.execute("DROP TRIGGER audit_log_seal_only")
    op.execute(
        "CREATE TRIGGER audit_log_seal_only BEFORE UPDATE ON audit_log"
        f" WHEN OLD.seq IS NOT NULL OR NEW.seq IS NULL OR {changed}"
        f" BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
    )
