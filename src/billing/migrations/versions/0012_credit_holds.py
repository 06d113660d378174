"""Credit holds: credits reserved in the `held` system account (seeded by 0011) until a
capture, a release or the worker settles them; and on PostgreSQL the function that
settles one in one round trip.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
ACTIVE = sa.text("status = 'active'")
USAGE_ACCOUNT_ID, EXPIRED_ACCOUNT_ID, HELD_ACCOUNT_ID = 4, 6, 0
# A grant that can no longer take credits back: expired (swept or not) or voided.
DEAD = "(g.status IN ('expired', 'voided') OR COALESCE(g.expires_at <= p_now, false))"

# Locks the hold, then (when credits go back) the wallet, and settles: the captured part
# to `usage`, taken first from the grants that can no longer take credits back, then in
# consumption order; the rest back into the grants it came from (a depleted one is active
# again); what goes back to a dead grant is expired at once by an `expiry` transaction.
# Returns nothing when refused: no such hold for the user, not active, not yet due (for
# the worker), a capture above the hold, or the key used (see credits/hold_settlement.py).
SETTLE_FUNCTION = f"""
CREATE FUNCTION credit_hold_settle(
    p_hold bigint, p_user bigint, p_capture bigint, p_status varchar, p_kind varchar,
    p_now timestamptz, p_key varchar, p_fingerprint varchar, p_actor varchar, p_due boolean,
    p_expiry_key varchar, a_target varchar, a_request varchar, a_caller_request varchar
) RETURNS TABLE (
    id bigint, user_id bigint, amount bigint, captured bigint, status varchar,
    expires_at timestamptz, description varchar, metadata jsonb, created_at timestamptz,
    settled_at timestamptz, transaction_id bigint, balance bigint
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_hold credit_holds%ROWTYPE;
    v_capture bigint;
    v_return bigint;
    v_live bigint := 0;
    v_dead bigint := 0;
    v_ids bigint[];
    v_backs bigint[];
    v_deads boolean[];
    v_balance bigint;
    v_txn bigint;
    v_expiry bigint;
BEGIN
    SELECT * INTO v_hold FROM credit_holds h
    WHERE h.id = p_hold AND h.user_id = p_user FOR UPDATE;
    v_capture := COALESCE(p_capture, v_hold.amount);
    IF v_hold.id IS NULL OR v_hold.status <> 'active' OR v_capture > v_hold.amount
       OR (p_due AND v_hold.expires_at > p_now)
       OR EXISTS (SELECT 1 FROM credit_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN;
    END IF;
    v_return := v_hold.amount - v_capture;
    IF v_return > 0 THEN
        PERFORM 1 FROM credit_accounts a WHERE a.id = v_hold.account_id FOR UPDATE;
        WITH ordered AS (
            SELECT g.id, -e.amount AS took, {DEAD} AS dead,
                   SUM(-e.amount) OVER (
                       ORDER BY {DEAD} DESC, g.priority, g.expires_at NULLS LAST,
                                g.created_at, g.id
                   ) AS upto
            FROM credit_grant_entries e JOIN credit_grants g ON g.id = e.grant_id
            WHERE e.transaction_id = v_hold.hold_transaction_id
        ), returned AS (
            SELECT o.id, LEAST(o.took, o.upto - v_capture) AS back, o.dead
            FROM ordered o WHERE o.upto > v_capture
        )
        SELECT array_agg(r.id), array_agg(r.back), array_agg(r.dead),
               COALESCE(SUM(r.back) FILTER (WHERE NOT r.dead), 0),
               COALESCE(SUM(r.back) FILTER (WHERE r.dead), 0)
        INTO v_ids, v_backs, v_deads, v_live, v_dead
        FROM returned r;
        UPDATE credit_accounts a SET balance = a.balance + v_live, updated_at = p_now
        WHERE a.id = v_hold.account_id RETURNING a.balance INTO v_balance;
        UPDATE credit_grants g
        SET remaining = g.remaining + u.back, status = 'active', updated_at = p_now
        FROM unnest(v_ids, v_backs, v_deads) AS u(id, back, dead)
        WHERE g.id = u.id AND NOT u.dead;
    ELSE
        SELECT a.balance INTO v_balance FROM credit_accounts a WHERE a.id = v_hold.account_id;
    END IF;
    INSERT INTO credit_transactions (kind, user_id, amount, idempotency_key, fingerprint, actor,
                                     reference, description, metadata, expires_at, created_at)
    VALUES (p_kind, p_user, CASE WHEN v_capture > 0 THEN v_capture ELSE v_return END, p_key,
            p_fingerprint, p_actor, NULL, v_hold.description, v_hold.metadata, NULL, p_now)
    RETURNING credit_transactions.id INTO v_txn;
    INSERT INTO credit_entries (transaction_id, account_id, amount, balance_after)
    SELECT v_txn, {HELD_ACCOUNT_ID}, -v_hold.amount, NULL::bigint
    UNION ALL SELECT v_txn, {USAGE_ACCOUNT_ID}, v_capture, NULL WHERE v_capture > 0
    UNION ALL SELECT v_txn, v_hold.account_id, v_return, v_balance + v_dead WHERE v_return > 0;
    INSERT INTO credit_grant_entries (transaction_id, grant_id, amount)
    SELECT v_txn, u.id, u.back FROM unnest(v_ids, v_backs) AS u(id, back);
    INSERT INTO audit_log (created_at, actor, action, target, user_id, request_id, details,
                           caller_request_id)
    VALUES (p_now, p_actor, 'credit.' || p_kind, a_target, p_user, a_request,
            jsonb_build_object('amount', CASE WHEN v_capture > 0 THEN v_capture ELSE v_return END,
                               'reference', NULL, 'transaction_id', v_txn,
                               'balance_after', v_balance + v_dead, 'hold_id', p_hold,
                               'captured', v_capture, 'returned', v_return),
            a_caller_request);
    IF v_dead > 0 THEN
        INSERT INTO credit_transactions (kind, user_id, amount, idempotency_key, fingerprint,
                                         actor, reference, description, metadata, expires_at,
                                         created_at)
        VALUES ('expiry', p_user, v_dead, p_expiry_key, 'expiry:' || p_user || ':' || p_expiry_key,
                p_actor, NULL, NULL, NULL, NULL, p_now)
        RETURNING credit_transactions.id INTO v_expiry;
        INSERT INTO credit_entries (transaction_id, account_id, amount, balance_after)
        VALUES (v_expiry, v_hold.account_id, -v_dead, v_balance),
               (v_expiry, {EXPIRED_ACCOUNT_ID}, v_dead, NULL);
        INSERT INTO credit_grant_entries (transaction_id, grant_id, amount)
        SELECT v_expiry, u.id, -u.back FROM unnest(v_ids, v_backs, v_deads) AS u(id, back, dead)
        WHERE u.dead;
        INSERT INTO audit_log (created_at, actor, action, target, user_id, request_id, details,
                               caller_request_id)
        VALUES (p_now, p_actor, 'credit.expiry', a_target, p_user, a_request,
                jsonb_build_object('amount', v_dead, 'reference', NULL, 'transaction_id', v_expiry,
                                   'balance_after', v_balance, 'hold_id', p_hold),
                a_caller_request);
    END IF;
    UPDATE credit_holds h
    SET status = p_status, captured = v_capture, settlement_transaction_id = v_txn,
        settled_at = p_now
    WHERE h.id = p_hold;
    RETURN QUERY
    SELECT h.id, h.user_id, h.amount, h.captured, h.status::varchar, h.expires_at,
           h.description::varchar, h.metadata, h.created_at, h.settled_at, v_txn,
           v_balance - credit_lapsed(v_hold.account_id, p_now)
    FROM credit_holds h WHERE h.id = p_hold;
END $$
"""  # noqa: S608 (constants only)


def upgrade() -> None:
    op.create_table(
        "credit_holds",
        sa.Column("id", BigIntId, primary_key=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", BigIntId, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("captured", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("metadata", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
        sa.Column("hold_transaction_id", BigIntId, nullable=False),
        sa.Column("settlement_transaction_id", BigIntId, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("settled_at", Timestamp, nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_holds_amount_positive")),
        sa.CheckConstraint(
            "captured >= 0 AND captured <= amount", name=op.f("ck_credit_holds_captured_in_range")
        ),
        sa.CheckConstraint(
            "(status = 'active' AND captured = 0 AND settled_at IS NULL"
            " AND settlement_transaction_id IS NULL)"
            " OR (status IN ('captured', 'released', 'expired') AND settled_at IS NOT NULL"
            " AND settlement_transaction_id IS NOT NULL"
            " AND (status = 'captured' OR captured = 0))",
            name=op.f("ck_credit_holds_settled_once"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["credit_accounts.id"],
            name=op.f("fk_credit_holds_account_id_credit_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["hold_transaction_id"],
            ["credit_transactions.id"],
            name=op.f("fk_credit_holds_hold_transaction_id_credit_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["settlement_transaction_id"],
            ["credit_transactions.id"],
            name=op.f("fk_credit_holds_settlement_transaction_id_credit_transactions"),
        ),
        sa.UniqueConstraint(
            "hold_transaction_id", name=op.f("uq_credit_holds_hold_transaction_id")
        ),
        sa.UniqueConstraint(
            "settlement_transaction_id", name=op.f("uq_credit_holds_settlement_transaction_id")
        ),
    )
    op.create_index("ix_credit_holds_user", "credit_holds", ["user_id", "id"])
    op.create_index(
        "ix_credit_holds_active",
        "credit_holds",
        ["user_id", "id"],
        postgresql_include=["amount"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )
    op.create_index(
        "ix_credit_holds_expiring",
        "credit_holds",
        ["expires_at"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SETTLE_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION credit_hold_settle")
    op.drop_table("credit_holds")
