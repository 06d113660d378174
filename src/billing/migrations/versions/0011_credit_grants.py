"""Credit grants: the wallet's sub-accounts, consumed in order and expiring; the `held`
system account; and on PostgreSQL the function that debits grants in one round trip.

Each wallet's balance is carried over as one never-expiring grant (source `purchase`,
priority 50), opened by a grant entry with no transaction, so no credit is lost.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
HELD_ACCOUNT_ID = 0  # 7 and up may be wallets already on SQLite (no identity start there)
ACTIVE = sa.text("status = 'active'")
EXPIRING = sa.text("status = 'active' AND expires_at IS NOT NULL")

# What a wallet's expired, not yet swept grants still hold: a wallet's balance less this is
# what can be spent, and what every posting answers.
LAPSED_FUNCTION = """
CREATE FUNCTION credit_lapsed(p_account bigint, p_now timestamptz) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(SUM(remaining), 0)::bigint FROM credit_grants
    WHERE account_id = p_account AND status = 'active' AND expires_at <= p_now
$$
"""
# Locks the wallet, then posts in one statement of its own, which sees what the
# debits before it committed; one round trip per debit (see credits/single_statement.py).
DEBIT_FUNCTION = """
CREATE FUNCTION credit_debit(
    p_user bigint, p_amount bigint, p_now timestamptz, p_key varchar, p_kind varchar,
    p_fingerprint varchar, p_actor varchar, p_reference varchar, p_description varchar,
    p_metadata jsonb, p_expires_at timestamptz, p_change bigint, p_system bigint,
    a_actor varchar, a_action varchar, a_target varchar, a_user bigint, a_request varchar,
    a_details jsonb, a_caller_request varchar, p_prefer varchar, p_grant bigint, p_ends varchar
) RETURNS TABLE (id bigint, balance bigint, amount bigint, grant_id bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_wallet bigint;
BEGIN
    SELECT a.id INTO v_wallet FROM credit_accounts a
    WHERE a.user_id = p_user AND a.kind = 'wallet'
      AND NOT EXISTS (SELECT 1 FROM credit_transactions t WHERE t.idempotency_key = p_key)
    FOR UPDATE OF a;
    IF v_wallet IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH ordered AS (
        SELECT g.id, g.remaining,
               (SUM(g.remaining) OVER (
                   ORDER BY COALESCE(g.reference = p_prefer, false) DESC, g.priority,
                            g.expires_at NULLS LAST, g.created_at, g.id
               ))::bigint AS upto
        FROM credit_grants g
        WHERE g.account_id = v_wallet AND g.status = 'active'
          AND (g.id = p_grant
               OR (p_grant IS NULL AND (g.expires_at IS NULL OR g.expires_at > p_now)))
    ), due AS (
        SELECT CASE WHEN p_grant IS NULL THEN p_amount ELSE MAX(o.upto) END AS amt
        FROM ordered o
        HAVING CASE WHEN p_grant IS NULL THEN COALESCE(MAX(o.upto), 0) >= p_amount
                    ELSE COALESCE(MAX(o.upto), 0) > 0 END
    ), wallet AS (
        UPDATE credit_accounts a SET balance = a.balance - due.amt, updated_at = p_now
        FROM due WHERE a.id = v_wallet
        RETURNING a.balance, due.amt
    ), txn AS (
        INSERT INTO credit_transactions (kind, user_id, amount, idempotency_key, fingerprint,
                                         actor, reference, description, metadata, expires_at,
                                         created_at)
        SELECT p_kind, p_user, w.amt, p_key, p_fingerprint, p_actor, p_reference,
               p_description, p_metadata, p_expires_at, p_now
        FROM wallet w
        RETURNING credit_transactions.id
    ), entries AS (
        INSERT INTO credit_entries (transaction_id, account_id, amount, balance_after)
        SELECT txn.id, v_wallet, -w.amt, w.balance FROM txn, wallet w
        UNION ALL
        SELECT txn.id, p_system, w.amt, NULL FROM txn, wallet w
    ), taken AS (
        UPDATE credit_grants g
        SET remaining = g.remaining - LEAST(o.remaining, w.amt - (o.upto - o.remaining)),
            status = CASE WHEN o.upto <= w.amt THEN COALESCE(p_ends, 'depleted')
                          ELSE 'active' END,
            updated_at = p_now
        FROM ordered o, wallet w
        WHERE g.id = o.id AND o.upto - o.remaining < w.amt
        RETURNING g.id, LEAST(o.remaining, w.amt - (o.upto - o.remaining)) AS take
    ), grant_entries AS (
        INSERT INTO credit_grant_entries (transaction_id, grant_id, amount)
        SELECT txn.id, taken.id, -taken.take FROM txn, taken
    ), audit AS (
        INSERT INTO audit_log (created_at, actor, action, target, user_id, request_id,
                               details, caller_request_id)
        SELECT p_now, a_actor, a_action, a_target, a_user, a_request,
               a_details || jsonb_build_object('amount', w.amt, 'transaction_id', txn.id,
                                               'balance_after', w.balance),
               a_caller_request
        FROM txn, wallet w
    )
    SELECT txn.id, w.balance - (
               SELECT COALESCE(SUM(g.remaining), 0)::bigint FROM credit_grants g
               WHERE g.account_id = v_wallet AND g.status = 'active' AND g.expires_at <= p_now
                 AND g.id IS DISTINCT FROM p_grant
           ), w.amt, NULL::bigint
    FROM txn, wallet w;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "credit_grants",
        sa.Column("id", BigIntId, primary_key=True),
        sa.Column("account_id", BigIntId, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("transaction_id", BigIntId, nullable=True),
        sa.Column("effective_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_grants_amount_positive")),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= amount",
            name=op.f("ck_credit_grants_remaining_in_range"),
        ),
        sa.CheckConstraint(
            "priority BETWEEN 0 AND 100", name=op.f("ck_credit_grants_priority_in_range")
        ),
        sa.CheckConstraint(
            "(status = 'active' AND remaining > 0) OR (status <> 'active' AND remaining = 0)",
            name=op.f("ck_credit_grants_status_matches_remaining"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["credit_accounts.id"],
            name=op.f("fk_credit_grants_account_id_credit_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["credit_transactions.id"],
            name=op.f("fk_credit_grants_transaction_id_credit_transactions"),
        ),
    )
    op.create_index("ix_credit_grants_user_id", "credit_grants", ["user_id"])
    op.create_index("ix_credit_grants_reference", "credit_grants", ["reference"])
    op.create_index(
        "ix_credit_grants_spendable",
        "credit_grants",
        ["account_id", "priority", "expires_at", "created_at", "id"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )
    op.create_index(
        "ix_credit_grants_expiring",
        "credit_grants",
        ["expires_at"],
        postgresql_where=EXPIRING,
        sqlite_where=EXPIRING,
    )
    op.create_table(
        "credit_grant_entries",
        sa.Column("id", BigIntId, primary_key=True),
        sa.Column("transaction_id", BigIntId, nullable=True),
        sa.Column("grant_id", BigIntId, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_credit_grant_entries_amount_nonzero")),
    )
    op.create_index(
        "ix_credit_grant_entries_transaction_id", "credit_grant_entries", ["transaction_id"]
    )
    op.create_index("ix_credit_grant_entries_grant_id", "credit_grant_entries", ["grant_id"])
    _carry_balances_over(datetime.now(UTC))
    _seed_held_account(datetime.now(UTC))
    _make_grant_entries_immutable()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(LAPSED_FUNCTION)
        op.execute(DEBIT_FUNCTION)


def _carry_balances_over(now: datetime) -> None:
    op.get_bind().execute(
        sa.text(
            "INSERT INTO credit_grants (account_id, user_id, source, amount, remaining,"
            " priority, status, reference, transaction_id, effective_at, expires_at,"
            " created_at, updated_at)"
            " SELECT id, user_id, 'purchase', balance, balance, 50, 'active', NULL, NULL,"
            " :now, NULL, :now, :now"
            " FROM credit_accounts WHERE kind = 'wallet' AND balance > 0"
        ),
        {"now": now},
    )
    op.execute(
        "INSERT INTO credit_grant_entries (transaction_id, grant_id, amount)"
        " SELECT NULL, id, amount FROM credit_grants"
    )


def _seed_held_account(now: datetime) -> None:
    op.get_bind().execute(
        sa.text(
            "INSERT INTO credit_accounts (id, kind, name, created_at, updated_at)"
            " VALUES (:id, 'system', 'held', :now, :now)"
        ),
        {"id": HELD_ACCOUNT_ID, "now": now},
    )


def _make_grant_entries_immutable() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER credit_grant_entries_immutable BEFORE UPDATE OR DELETE"
            " ON credit_grant_entries FOR EACH ROW EXECUTE FUNCTION ledger_row_immutable()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER credit_grant_entries_no_{operation.lower()} BEFORE {operation}"
            " ON credit_grant_entries BEGIN SELECT RAISE(ABORT, 'ledger rows are immutable'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION credit_debit")
        op.execute("DROP FUNCTION credit_lapsed")
        op.execute("DROP TRIGGER credit_grant_entries_immutable ON credit_grant_entries")
    else:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER credit_grant_entries_no_{operation}")
    op.get_bind().execute(
        sa.text("DELETE FROM credit_accounts WHERE id = :id"), {"id": HELD_ACCOUNT_ID}
    )
    op.drop_table("credit_grant_entries")
    op.drop_table("credit_grants")
