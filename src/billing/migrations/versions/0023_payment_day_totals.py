"""Payments summed per UTC day, currency and status (`payment_day_totals`), kept by
triggers on `payments` in the transaction that writes each payment, so the dashboard reads
a year of revenue from a few hundred rows. A payment's refunds and disputes change its
row long after its day: each change takes the row's old figures out of their group and
puts the new ones in. Filled here from the payments there are; `billing verify-ledger`
proves the table equals them.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORTED = "('succeeded', 'failed')"
COLUMNS = "(day, currency, status, count, amount, reversed)"
# What a payment row adds to its group, for NEW (sign 1) or OLD (sign -1); `day_of` is
# the dialect's UTC day of a timestamp, `least` its two-argument minimum.
FIGURES = (
    "{day_of}, {row}.currency, {row}.status, {sign}, {sign} * {row}.amount,"
    " {sign} * {least}({row}.amount_refunded + {row}.amount_disputed, {row}.amount)"
)
ADD_TO_GROUP = (
    " ON CONFLICT (day, currency, status) DO UPDATE SET count = {table}.count + excluded.count,"
    " amount = {table}.amount + excluded.amount, reversed = {table}.reversed + excluded.reversed"
)
CHANGED = (
    "OLD.status IS DISTINCT FROM NEW.status OR OLD.currency IS DISTINCT FROM NEW.currency"
    " OR OLD.amount IS DISTINCT FROM NEW.amount"
    " OR OLD.amount_refunded IS DISTINCT FROM NEW.amount_refunded"
    " OR OLD.amount_disputed IS DISTINCT FROM NEW.amount_disputed"
    " OR OLD.created_at IS DISTINCT FROM NEW.created_at"
)


def _day_of(dialect: str, row: str) -> str:
    """The UTC day of the row's `created_at` (SQLite stores it as naive UTC text)."""
    if dialect == "postgresql":
        return f"({row}.created_at AT TIME ZONE 'UTC')::date"
    return f"date({row}.created_at)"


def _least(dialect: str) -> str:
    return "LEAST" if dialect == "postgresql" else "MIN"


def _figures(dialect: str, row: str, sign: int) -> str:
    return FIGURES.format(day_of=_day_of(dialect, row), row=row, sign=sign, least=_least(dialect))


def _move(dialect: str, row: str, sign: int, table: str) -> str:
    """Add a row's figures to (sign 1) or take them from (sign -1) its group."""
    return (
        f"INSERT INTO payment_day_totals {COLUMNS} SELECT {_figures(dialect, row, sign)}"
        f" WHERE {row}.status IN {REPORTED}" + ADD_TO_GROUP.format(table=table)
    )


def _postgresql_triggers() -> list[str]:
    table = "payment_day_totals"
    return [
        f"""
        CREATE FUNCTION payment_day_totals_move() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN {_move("postgresql", "OLD", -1, table)}; END IF;
            IF TG_OP <> 'DELETE' THEN {_move("postgresql", "NEW", 1, table)}; END IF;
            RETURN NULL;
        END $$
        """,
        "CREATE TRIGGER payment_day_totals_written AFTER INSERT OR DELETE ON payments"
        " FOR EACH ROW EXECUTE FUNCTION payment_day_totals_move()",
        "CREATE TRIGGER payment_day_totals_changed AFTER UPDATE ON payments"
        f" FOR EACH ROW WHEN ({CHANGED}) EXECUTE FUNCTION payment_day_totals_move()",
    ]


def _sqlite_triggers() -> list[str]:
    table = "payment_day_totals"
    old, new = _move("sqlite", "OLD", -1, table), _move("sqlite", "NEW", 1, table)
    return [
        f"CREATE TRIGGER payment_day_totals_inserted AFTER INSERT ON payments BEGIN {new}; END",
        f"CREATE TRIGGER payment_day_totals_deleted AFTER DELETE ON payments BEGIN {old}; END",
        "CREATE TRIGGER payment_day_totals_changed AFTER UPDATE ON payments"
        f" WHEN {CHANGED} BEGIN {old}; {new}; END",
    ]


def upgrade() -> None:
    op.create_table(
        "payment_day_totals",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reversed", sa.BigInteger(), nullable=False),
    )
    dialect = op.get_bind().dialect.name
    day_of, least = _day_of(dialect, "payments"), _least(dialect)
    op.execute(
        f"INSERT INTO payment_day_totals {COLUMNS} SELECT {day_of}, currency, status,"  # noqa: S608 (no input in it)
        f" count(*), sum(amount), sum({least}(amount_refunded + amount_disputed, amount))"
        f" FROM payments WHERE status IN {REPORTED} GROUP BY {day_of}, currency, status"
    )
    triggers = _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers()
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER payment_day_totals_changed ON payments")
        op.execute("DROP TRIGGER payment_day_totals_written ON payments")
        op.execute("DROP FUNCTION payment_day_totals_move()")
    else:
        for name in ("inserted", "deleted", "changed"):
            op.execute(f"DROP TRIGGER payment_day_totals_{name}")
    op.drop_table("payment_day_totals")
