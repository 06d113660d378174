"""A settlement locks the wallet before the hold, as every other posting does.

0012 locked the hold first and the wallet only when credits went back. Two group-commit
batches settling holds of one wallet then took the hold and the wallet in opposite
orders (batch one: hold A, wallet, hold B; batch two: hold B, wallet) and PostgreSQL
broke the deadlock by failing one of them after `deadlock_timeout`. Wallet first, then
the hold, is one order for every transaction: the wallet serializes a user's postings,
and wallets are taken in user order within a batch.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOLD_LOCKED = """    SELECT * INTO v_hold FROM credit_holds h
    WHERE h.id = p_hold AND h.user_id = p_user FOR UPDATE;
"""
WALLET_LOCKED = "PERFORM 1 FROM credit_accounts a WHERE a.user_id = p_user FOR UPDATE;"
WALLET_LOCKED_IF_RETURNING = (
    "        PERFORM 1 FROM credit_accounts a WHERE a.id = v_hold.account_id FOR UPDATE;\n"
)


def _settle_function(wallet_first: bool) -> str:
    """0015's function, the wallet locked first or (as it was) only when credits go back."""
    settling = importlib.import_module("billing.migrations.versions.0015_holds_end_at_expiry")
    source: str = settling._settle_function(settling.DUE_FOR_ITS_SETTLER)
    assert source.count(HOLD_LOCKED) == source.count(WALLET_LOCKED_IF_RETURNING) == 1
    if not wallet_first:
        return source
    return source.replace(HOLD_LOCKED, f"    {WALLET_LOCKED}\n{HOLD_LOCKED}").replace(
        WALLET_LOCKED_IF_RETURNING, ""
    )


def _replace(wallet_first: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_settle_function(wallet_first))
        # CREATE OR REPLACE drops the function's settings: 0016's must be set again.
        op.execute("ALTER FUNCTION credit_hold_settle SET enable_seqscan = off")


def upgrade() -> None:
    _replace(wallet_first=True)


def downgrade() -> None:
    _replace(wallet_first=False)
