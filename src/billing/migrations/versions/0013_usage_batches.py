"""Usage batches on PostgreSQL: many debits in one statement and one commit.

`credit_debit_many` locks the batch's wallets in user id order, so two batches never
deadlock each other, then posts by set the events of every wallet that can pay for all
of its fresh events, and the rest one by one through `credit_debit` (migration 0011).
Each event is checked before it writes, so an event refused (key used, too few credits)
writes nothing and the others go on.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENTS = """
    unnest(p_users, p_amounts, p_keys, p_fingerprints, p_descriptions, p_metadata, p_targets,
           p_details) WITH ORDINALITY AS e(usr, amt, k, fp, descr, meta, target, details, n)
"""
# 1. Lock the batch's wallets in user id order.
# 2. Fresh events (keys unused) of wallets whose spendable grants cover all of them are
#    posted together by set: each event's slice of its wallet's running total meets the
#    slices of the wallet's grants in consumption order.
# 3. The fresh events of the other wallets go one by one through `credit_debit`, in
#    request order: which of them fit depends on the ones before.
DEBIT_MANY = f"""
CREATE FUNCTION credit_debit_many(
    p_users bigint[], p_amounts bigint[], p_keys varchar[], p_fingerprints varchar[],
    p_descriptions varchar[], p_metadata jsonb[], p_targets varchar[], p_details jsonb[],
    p_now timestamptz, p_kind varchar, p_actor varchar, p_system bigint, a_action varchar,
    a_request varchar, a_caller_request varchar
) RETURNS TABLE (ordinal integer, id bigint, balance bigint, amount bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_covered bigint[];
    e record;
BEGIN
    PERFORM 1 FROM credit_accounts a
    WHERE a.kind = 'wallet' AND a.user_id = ANY(p_users) ORDER BY a.user_id FOR UPDATE;

    SELECT COALESCE(array_agg(f.usr), '{{}}') INTO v_covered
    FROM (
        SELECT e.usr, SUM(e.amt) AS total FROM {EVENTS}
        WHERE NOT EXISTS (SELECT 1 FROM credit_transactions t WHERE t.idempotency_key = e.k)
        GROUP BY e.usr
    ) f
    JOIN (
        SELECT w.user_id, SUM(g.remaining) AS spendable
        FROM credit_accounts w JOIN credit_grants g ON g.account_id = w.id
        WHERE w.kind = 'wallet' AND w.user_id = ANY(p_users) AND g.status = 'active'
          AND (g.expires_at IS NULL OR g.expires_at > p_now)
        GROUP BY w.user_id
    ) s ON s.user_id = f.usr
    WHERE f.total <= s.spendable;

    RETURN QUERY
    WITH fresh AS (
        SELECT e.*, w.id AS wallet,
               (SUM(e.amt) OVER (PARTITION BY e.usr ORDER BY e.n))::bigint AS upto
        FROM {EVENTS}
        JOIN credit_accounts w ON w.kind = 'wallet' AND w.user_id = e.usr
        WHERE e.usr = ANY(v_covered)
          AND NOT EXISTS (SELECT 1 FROM credit_transactions t WHERE t.idempotency_key = e.k)
    ), grants AS (
        SELECT g.id, g.account_id, g.remaining,
               (SUM(g.remaining) OVER (
                   PARTITION BY g.account_id
                   ORDER BY g.priority, g.expires_at NULLS LAST, g.created_at, g.id
               ))::bigint AS upto
        FROM credit_grants g
        WHERE g.account_id IN (SELECT wallet FROM fresh) AND g.status = 'active'
          AND (g.expires_at IS NULL OR g.expires_at > p_now)
    ), parts AS (
        SELECT f.n, g.id AS grant_id,
               LEAST(f.upto, g.upto) - GREATEST(f.upto - f.amt, g.upto - g.remaining) AS take
        FROM fresh f JOIN grants g ON g.account_id = f.wallet
        WHERE g.upto - g.remaining < f.upto AND g.upto > f.upto - f.amt
    ), wallets AS (
        UPDATE credit_accounts a SET balance = a.balance - s.total, updated_at = p_now
        FROM (SELECT wallet, SUM(amt)::bigint AS total FROM fresh GROUP BY wallet) s
        WHERE a.id = s.wallet
        RETURNING a.id, a.balance + s.total AS before
    ), txn AS (
        INSERT INTO credit_transactions (kind, user_id, amount, idempotency_key, fingerprint,
                                         actor, description, metadata, created_at)
        SELECT p_kind, f.usr, f.amt, f.k, f.fp, p_actor, f.descr, f.meta, p_now
        FROM fresh f ORDER BY f.usr, f.n
        RETURNING id, idempotency_key
    ), posted AS (
        SELECT f.*, txn.id AS txn_id, w.before - f.upto AS balance_after
        FROM fresh f JOIN txn ON txn.idempotency_key = f.k JOIN wallets w ON w.id = f.wallet
    ), entries AS (
        INSERT INTO credit_entries (transaction_id, account_id, amount, balance_after)
        SELECT p.txn_id, CASE WHEN side = 1 THEN p.wallet ELSE p_system END,
               CASE WHEN side = 1 THEN -p.amt ELSE p.amt END,
               CASE WHEN side = 1 THEN p.balance_after END
        FROM posted p, (VALUES (1), (2)) AS sides(side) ORDER BY p.txn_id, side
    ), taken AS (
        UPDATE credit_grants g
        SET remaining = g.remaining - s.take,
            status = CASE WHEN g.remaining = s.take THEN 'depleted' ELSE 'active' END,
            updated_at = p_now
        FROM (SELECT grant_id, SUM(take)::bigint AS take FROM parts GROUP BY grant_id) s
        WHERE g.id = s.grant_id
    ), grant_entries AS (
        INSERT INTO credit_grant_entries (transaction_id, grant_id, amount)
        SELECT p.txn_id, parts.grant_id, -parts.take
        FROM parts JOIN posted p ON p.n = parts.n ORDER BY p.txn_id, parts.grant_id
    ), audit AS (
        INSERT INTO audit_log (created_at, actor, action, target, user_id, request_id, details,
                               caller_request_id)
        SELECT p_now, p_actor, a_action, p.target, p.usr, a_request,
               p.details || jsonb_build_object('amount', p.amt, 'transaction_id', p.txn_id,
                                               'balance_after', p.balance_after),
               a_caller_request
        FROM posted p ORDER BY p.txn_id
    )
    SELECT p.n::integer, p.txn_id, p.balance_after - credit_lapsed(p.wallet, p_now), p.amt
    FROM posted p;

    FOR e IN
        SELECT * FROM {EVENTS} WHERE NOT (e.usr = ANY(v_covered)) ORDER BY e.usr, e.n
    LOOP
        RETURN QUERY
            SELECT e.n::integer, d.id, d.balance, d.amount
            FROM credit_debit(e.usr, e.amt, p_now, e.k, p_kind, e.fp, p_actor, NULL, e.descr,
                              e.meta, NULL, -e.amt, p_system, p_actor, a_action, e.target,
                              e.usr, a_request, e.details, a_caller_request, NULL, NULL,
                              NULL) d;
    END LOOP;
END $$
"""  # noqa: S608 (constants only)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DEBIT_MANY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION credit_debit_many")
