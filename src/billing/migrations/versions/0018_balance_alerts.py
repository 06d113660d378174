"""Low-balance alerts and auto top-up (issue 17): what each wallet watches for, its
settings, and the top-ups the worker makes.

A wallet's row carries its alert state (`alert_level`: 0 above its threshold, 1 below
it, 2 empty) and its armed auto top-up (`topup_threshold` while enabled and not paused,
`topup_pending` while one is in flight, `topup_requested_at` until the worker takes the
request, `topup_resumes_at` after the monthly limit).
Every posting that moves a wallet updates that row with the row locked, so what a debit
decides there is decided once, in the debit's own transaction: on PostgreSQL a trigger on
the row decides it, whatever statement moved the balance; on SQLite `credits.watch` does,
in the posting's transaction. Wallets start above every line (`alert_level` 0): one whose
balance is already below the service's default threshold tells `credits.low` once, at its
next debit.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
IN_FLIGHT = sa.text("status IN ('charging', 'pending')")
CHARGING = sa.text("status = 'charging'")
REQUESTED = sa.text("topup_requested_at IS NOT NULL")

# After the statement, so the grants it moved are seen as it left them (an expiry's grant
# no longer lapsed, say). It updates the row again only when something changed, rarely.
# The default threshold is the connection's `billing.low_balance_threshold` setting (the
# service sets it from BILLING_LOW_BALANCE_THRESHOLD on every connection it opens).
WATCH_FUNCTION = """
CREATE FUNCTION credit_wallet_watch() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_threshold bigint := COALESCE(
        NEW.low_balance_threshold,
        NULLIF(current_setting('billing.low_balance_threshold', true), '')::bigint);
    v_spendable bigint := NEW.balance - credit_lapsed(NEW.id, NEW.updated_at);
    v_level smallint := CASE WHEN v_spendable <= 0 THEN 2
                             WHEN v_spendable < v_threshold THEN 1 ELSE 0 END;
    v_request boolean := false;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.balance < OLD.balance THEN
        IF v_level > NEW.alert_level THEN
            INSERT INTO webhook_messages (message_id, type, user_id, body, created_at)
            SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), m.type, NEW.user_id,
                   jsonb_build_object(
                       'type', m.type,
                       'timestamp', to_char(NEW.updated_at AT TIME ZONE 'UTC',
                                            'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                       'data', m.data)::text,
                   NEW.updated_at
            FROM (VALUES
                ('credits.low', jsonb_build_object('user_id', NEW.user_id, 'balance',
                                                   v_spendable, 'threshold', v_threshold),
                 NEW.alert_level = 0 AND v_threshold > 0),
                ('credits.depleted', jsonb_build_object('user_id', NEW.user_id, 'balance',
                                                        v_spendable),
                 v_level = 2)
            ) AS m(type, data, due)
            WHERE m.due;
        END IF;
        v_request := COALESCE(
            NOT NEW.topup_pending AND v_spendable < NEW.topup_threshold
            AND NEW.updated_at >= COALESCE(NEW.topup_resumes_at, '-infinity'), false);
    END IF;
    IF v_level <> NEW.alert_level OR v_request THEN
        UPDATE credit_accounts
        SET alert_level = v_level,
            topup_pending = topup_pending OR v_request,
            topup_requested_at = CASE WHEN v_request THEN NEW.updated_at
                                      ELSE topup_requested_at END
        WHERE id = NEW.id;
    END IF;
    RETURN NULL;
END $$
"""
WATCH_TRIGGER = """
CREATE TRIGGER credit_wallet_watch
AFTER INSERT OR UPDATE OF balance, low_balance_threshold
ON credit_accounts FOR EACH ROW WHEN (NEW.kind = 'wallet')
EXECUTE FUNCTION credit_wallet_watch()
"""
WALLET_COLUMNS: tuple[sa.Column[Any], ...] = (
    sa.Column("low_balance_threshold", sa.BigInteger(), nullable=True),
    sa.Column("alert_level", sa.SmallInteger(), nullable=False, server_default="0"),
    sa.Column("topup_threshold", sa.BigInteger(), nullable=True),
    sa.Column("topup_pending", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("topup_requested_at", Timestamp, nullable=True),
    sa.Column("topup_resumes_at", Timestamp, nullable=True),
)


def upgrade() -> None:
    for column in WALLET_COLUMNS:  # SQLite adds (and drops) columns in place
        op.add_column("credit_accounts", column)
    op.create_index(
        "ix_credit_accounts_topup_requested",
        "credit_accounts",
        ["id"],
        postgresql_where=REQUESTED,
        sqlite_where=REQUESTED,
    )
    op.create_table(
        "auto_topup_settings",
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("threshold", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("monthly_limit", sa.BigInteger(), nullable=False),
        sa.Column("paused_at", Timestamp, nullable=True),
        sa.Column("pause_reason", sa.String(64), nullable=True),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_table(
        "auto_topups",
        sa.Column("id", BigIntId, primary_key=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=True),
        sa.Column("payment_intent_id", sa.String(255), nullable=True),
        sa.Column("failure_code", sa.String(64), nullable=True),
        sa.Column("claimed_until", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    # Never two in flight for a user, whatever the code above it does.
    op.create_index(
        "uq_auto_topups_in_flight",
        "auto_topups",
        ["user_id"],
        unique=True,
        postgresql_where=IN_FLIGHT,
        sqlite_where=IN_FLIGHT,
    )
    op.create_index(
        "ix_auto_topups_charging",
        "auto_topups",
        ["claimed_until"],
        postgresql_where=CHARGING,
        sqlite_where=CHARGING,
    )
    op.create_index("ix_auto_topups_user_id", "auto_topups", ["user_id", "created_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(WATCH_FUNCTION)
        op.execute(WATCH_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER credit_wallet_watch ON credit_accounts")
        op.execute("DROP FUNCTION credit_wallet_watch")
    op.drop_table("auto_topups")
    op.drop_table("auto_topup_settings")
    op.drop_index("ix_credit_accounts_topup_requested", "credit_accounts")
    for column in reversed(WALLET_COLUMNS):
        op.drop_column("credit_accounts", column.name)
