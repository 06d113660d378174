"""Foundation: the credit ledger, API keys and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
IMMUTABLE_TABLES = ("credit_transactions", "credit_entries")
SYSTEM_ACCOUNTS = {
    "purchases": 1,
    "subscriptions": 2,
    "grants": 3,
    "usage": 4,
    "refunds": 5,
    "expired": 6,
}


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", BigIntId, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("revoked_at", Timestamp, nullable=True),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    accounts = op.create_table(
        "credit_accounts",
        sa.Column("id", BigIntId, sa.Identity(start=1000), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(32), nullable=True),
        sa.Column("balance", sa.BigInteger(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.CheckConstraint(
            "(kind = 'wallet' AND user_id IS NOT NULL AND name IS NULL"
            " AND balance IS NOT NULL AND balance >= 0)"
            " OR (kind = 'system' AND user_id IS NULL AND name IS NOT NULL AND balance IS NULL)",
            name=op.f("ck_credit_accounts_wallet_or_system"),
        ),
        sa.UniqueConstraint("name", name=op.f("uq_credit_accounts_name")),
        sa.UniqueConstraint("user_id", name=op.f("uq_credit_accounts_user_id")),
    )
    op.create_table(
        "credit_transactions",
        sa.Column("id", BigIntId, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(320), nullable=False),
        sa.Column("fingerprint", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column(
            "metadata", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("expires_at", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_transactions_amount_positive")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_credit_transactions_idempotency_key")),
    )
    op.create_index("ix_credit_transactions_reference", "credit_transactions", ["reference"])
    op.create_index("ix_credit_transactions_user_id", "credit_transactions", ["user_id"])
    op.create_table(
        "credit_entries",
        sa.Column("id", BigIntId, primary_key=True),
        sa.Column(
            "transaction_id",
            BigIntId,
            sa.ForeignKey(
                "credit_transactions.id",
                name=op.f("fk_credit_entries_transaction_id_credit_transactions"),
            ),
            nullable=False,
        ),
        sa.Column(
            "account_id",
            BigIntId,
            sa.ForeignKey(
                "credit_accounts.id", name=op.f("fk_credit_entries_account_id_credit_accounts")
            ),
            nullable=False,
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_credit_entries_amount_nonzero")),
    )
    op.create_index(
        "ix_credit_entries_account_transaction", "credit_entries", ["account_id", "transaction_id"]
    )
    op.create_index("ix_credit_entries_transaction_id", "credit_entries", ["transaction_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("id", BigIntId, primary_key=True),
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("response_type", sa.String(100), nullable=True),
        sa.Column("locked_at", Timestamp, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_idempotency_keys_scope")),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])

    now = datetime.now(UTC)
    op.bulk_insert(
        accounts,
        [
            {"id": account_id, "kind": "system", "name": name, "created_at": now, "updated_at": now}
            for name, account_id in SYSTEM_ACCOUNTS.items()
        ],
    )
    _create_immutability_triggers()


def downgrade() -> None:
    _drop_immutability_triggers()
    op.drop_table("idempotency_keys")
    op.drop_table("credit_entries")
    op.drop_table("credit_transactions")
    op.drop_table("credit_accounts")
    op.drop_table("api_keys")


def _create_immutability_triggers() -> None:
    """Ledger rows can be inserted, never updated or deleted, whoever connects."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION ledger_row_immutable() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'ledger rows are immutable: % on %', TG_OP, TG_TABLE_NAME;"
            " END $$"
        )
        for table in IMMUTABLE_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION ledger_row_immutable()"
            )
        return
    for table in IMMUTABLE_TABLES:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table}"
                " BEGIN SELECT RAISE(ABORT, 'ledger rows are immutable'); END"
            )


def _drop_immutability_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in IMMUTABLE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ledger_row_immutable()")
        return
    for table in IMMUTABLE_TABLES:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
