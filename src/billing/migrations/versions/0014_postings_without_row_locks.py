"""Postings that lock only the wallets they move.

A foreign key check takes a share lock on the row it names. Every entry names a system
account (`usage`, `held`, ...), so every concurrent posting locked the same few rows, and
PostgreSQL turned those shared locks into multixacts: a cost paid on every posting and
growing with concurrency. Entries lose their foreign keys, as grant entries never had
them; `billing verify-ledger` proves every entry names an account and a transaction, and
ledger rows are immutable.

`credit_debit_many` is planned for each call's arrays (a generic plan, which PL/pgSQL
switches to after five calls, ran batches of 1,000 ten times slower), checks keys once,
by the insert itself, and reads each wallet's lapsed grants once.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from collections.abc import Callable, Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTRY_KEYS = {
    "fk_credit_entries_account_id_credit_accounts": ("credit_accounts", "account_id"),
    "fk_credit_entries_transaction_id_credit_transactions": (
        "credit_transactions",
        "transaction_id",
    ),
}
EVENTS = """
    unnest(p_users, p_amounts, p_keys, p_fingerprints, p_descriptions, p_metadata, p_targets,
           p_details) WITH ORDINALITY AS e(usr, amt, k, fp, descr, meta, target, details, n)
"""
# 1. Lock the batch's wallets in user id order.
# 2. Wallets whose spendable grants cover all of their events (a replayed one counted too)
#    post them by set: an event whose key is used is skipped by the insert (so is a key's
#    second event in one call: the caller explains it as a replay or a conflict), and each
#    posted event's slice of its wallet's running total meets the slices of the wallet's
#    grants in consumption order.
# 3. The events of the other wallets go one by one through `credit_debit`, in request
#    order: which of them fit depends on the ones before.
DEBIT_MANY = f"""
CREATE OR REPLACE FUNCTION credit_debit_many(
    p_users bigint[], p_amounts bigint[], p_keys varchar[], p_fingerprints varchar[],
    p_descriptions varchar[], p_metadata jsonb[], p_targets varchar[], p_details jsonb[],
    p_now timestamptz, p_kind varchar, p_actor varchar, p_system bigint, a_action varchar,
    a_request varchar, a_caller_request varchar
) RETURNS TABLE (ordinal integer, id bigint, balance bigint, amount bigint)
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
#variable_conflict use_column
DECLARE
    v_covered bigint[];
    e record;
BEGIN
    PERFORM 1 FROM credit_accounts a
    WHERE a.kind = 'wallet' AND a.user_id = ANY(p_users) ORDER BY a.user_id FOR UPDATE;

    SELECT COALESCE(array_agg(f.usr), '{{}}') INTO v_covered
    FROM (
        SELECT e.usr, SUM(e.amt) AS total FROM unnest(p_users, p_amounts) AS e(usr, amt)
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
    WITH events AS (
        SELECT DISTINCT ON (e.k) e.* FROM {EVENTS} WHERE e.usr = ANY(v_covered)
        ORDER BY e.k, e.n
    ), txn AS (
        INSERT INTO credit_transactions (kind, user_id, amount, idempotency_key, fingerprint,
                                         actor, description, metadata, created_at)
        SELECT p_kind, e.usr, e.amt, e.k, e.fp, p_actor, e.descr, e.meta, p_now
        FROM events e ORDER BY e.usr, e.n
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id, idempotency_key
    ), fresh AS (
        SELECT e.*, txn.id AS txn_id, w.id AS wallet,
               (SUM(e.amt) OVER (PARTITION BY e.usr ORDER BY e.n))::bigint AS upto
        FROM txn JOIN events e ON e.k = txn.idempotency_key
        JOIN credit_accounts w ON w.kind = 'wallet' AND w.user_id = e.usr
    ), grants AS (
        SELECT g.id, g.account_id, g.remaining,
               (SUM(g.remaining) OVER (
                   PARTITION BY g.account_id
                   ORDER BY g.priority, g.expires_at NULLS LAST, g.created_at, g.id
               ))::bigint AS upto
        FROM credit_grants g
        WHERE g.account_id IN (SELECT wallet FROM fresh) AND g.status = 'active'
          AND (g.expires_at IS NULL OR g.expires_at > p_now)
    ), lapsed AS (
        SELECT g.account_id, SUM(g.remaining)::bigint AS total
        FROM credit_grants g
        WHERE g.account_id IN (SELECT wallet FROM fresh) AND g.status = 'active'
          AND g.expires_at <= p_now
        GROUP BY g.account_id
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
    ), posted AS (
        SELECT f.*, w.before - f.upto AS balance_after
        FROM fresh f JOIN wallets w ON w.id = f.wallet
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
    SELECT p.n::integer, p.txn_id, p.balance_after - COALESCE(l.total, 0), p.amt
    FROM posted p LEFT JOIN lapsed l ON l.account_id = p.wallet;

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
    _without_triggers_on_sqlite(_drop_entry_keys)


def downgrade() -> None:
    # credit_debit_many keeps this body: it answers as 0013's did, and 0013 drops it.
    _without_triggers_on_sqlite(_add_entry_keys)


def _drop_entry_keys() -> None:
    with op.batch_alter_table("credit_entries") as table:
        for name in ENTRY_KEYS:
            table.drop_constraint(name, type_="foreignkey")


def _add_entry_keys() -> None:
    with op.batch_alter_table("credit_entries") as table:
        for name, (referred, column) in ENTRY_KEYS.items():
            table.create_foreign_key(name, referred, [column], ["id"])


def _without_triggers_on_sqlite(change: Callable[[], None]) -> None:
    """SQLite rebuilds the table to change its keys, and its triggers go with the old one."""
    if op.get_bind().dialect.name == "postgresql":
        change()
        return
    for operation in ("update", "delete"):
        op.execute(f"DROP TRIGGER credit_entries_no_{operation}")
    change()
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER credit_entries_no_{operation.lower()} BEFORE {operation}"
            " ON credit_entries BEGIN SELECT RAISE(ABORT, 'ledger rows are immutable'); END"
        )
