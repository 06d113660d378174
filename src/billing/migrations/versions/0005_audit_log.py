"""The audit log: append-only, hash-chained by a sealer (see `billing.audit.service`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UNSEALED, SEALED = sa.text("seq IS NULL"), sa.text("seq IS NOT NULL")
# Everything but the three columns the sealer sets once.
CONTENT = ("id", "created_at", "actor", "action", "target", "user_id", "request_id", "details")
REFUSED = "audit entries are append-only: only sealing may change one, once"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "audit_log",
        sa.Column("id", BigIntId, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("request_id", sa.String(255), nullable=True),
        sa.Column(
            "details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=True),
        sa.Column("hash", sa.String(64), nullable=True),
    )
    op.create_index(
        "uq_audit_log_seq",
        "audit_log",
        ["seq"],
        unique=True,
        postgresql_where=SEALED,
        sqlite_where=SEALED,
    )
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor", "id"])
    op.create_index("ix_audit_log_target_id", "audit_log", ["target", "id"])
    op.create_index("ix_audit_log_user_id_id", "audit_log", ["user_id", "id"])
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at"], postgresql_using="brin")
    op.create_index(
        "ix_audit_log_unsealed",
        "audit_log",
        ["id"],
        postgresql_where=UNSEALED,
        sqlite_where=UNSEALED,
    )
    _create_append_only_triggers(postgres)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_log_seal_only")
    op.drop_table("audit_log")


def _create_append_only_triggers(postgres: bool) -> None:
    """Rows are inserted, sealed once, never otherwise updated or deleted."""
    if postgres:
        new = ", ".join(f"NEW.{column}" for column in CONTENT)
        old = ", ".join(f"OLD.{column}" for column in CONTENT)
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN"
            "  IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL"
            f"     AND ({new}) IS NOT DISTINCT FROM ({old}) THEN RETURN NEW; END IF;"
            f"  RAISE EXCEPTION '{REFUSED} (% refused)', TG_OP;"
            " END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log"
            " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        return
    changed = " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in CONTENT)
    op.execute(
        "CREATE TRIGGER audit_log_seal_only BEFORE UPDATE ON audit_log"
        f" WHEN OLD.seq IS NOT NULL OR NEW.seq IS NULL OR {changed}"
        f" BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
        f" BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
    )
