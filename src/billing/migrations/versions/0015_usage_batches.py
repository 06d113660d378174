"""Usage batches on PostgreSQL: many debits in one statement and one commit.

`credit_debit_many` runs `credit_debit` (migration 0011) for each event, wallets in user
id order (request order within a wallet), so two batches lock wallets in one order and
never deadlock each other. Each debit is checked before it writes, so an event refused
(key used, too few credits) writes nothing and the others go on.

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEBIT_MANY = """
CREATE FUNCTION credit_debit_many(
    p_users bigint[], p_amounts bigint[], p_keys varchar[], p_fingerprints varchar[],
    p_descriptions varchar[], p_metadata jsonb[], p_targets varchar[], p_details jsonb[],
    p_now timestamptz, p_kind varchar, p_actor varchar, p_system bigint, a_action varchar,
    a_request varchar, a_caller_request varchar
) RETURNS TABLE (ordinal integer, id bigint, balance bigint, amount bigint)
LANGUAGE plpgsql AS $$
DECLARE
    e record;
BEGIN
    FOR e IN
        SELECT * FROM unnest(p_users, p_amounts, p_keys, p_fingerprints, p_descriptions,
                             p_metadata, p_targets, p_details)
            WITH ORDINALITY AS u(usr, amt, k, fp, descr, meta, target, details, n)
        ORDER BY u.usr, u.n
    LOOP
        RETURN QUERY
            SELECT e.n::integer, d.id, d.balance, d.amount
            FROM credit_debit(e.usr, e.amt, p_now, e.k, p_kind, e.fp, p_actor, NULL, e.descr,
                              e.meta, NULL, -e.amt, p_system, p_actor, a_action, e.target,
                              e.usr, a_request, e.details, a_caller_request, NULL, NULL,
                              NULL) d;
    END LOOP;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DEBIT_MANY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION credit_debit_many")
