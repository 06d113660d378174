"""Migration 0011: each wallet's balance, as 0010 kept it, carried over as one grant.

Wallets are filled the way the service posted before grants existed (transactions and
their two entries, the wallet's running balance), then the database is upgraded to head.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import insert, select

from billing.core.config import Settings
from billing.credits.accounts import PURCHASE, SPEND
from billing.credits.models import (
    CreditAccount,
    CreditEntry,
    CreditGrant,
    CreditGrantEntry,
    CreditTransaction,
)
from billing.credits.verify import LedgerReport, verify_ledger
from billing.db.engine import Database
from billing.migrations import upgrade

BEFORE_GRANTS = "0010"
# user id -> the signed postings that filled (or emptied) the wallet
POSTINGS = {501: [100], 502: [100, -30], 503: [40, -40], 504: [5, 7, -2]}
CARRIED_OVER = {501: 100, 502: 70, 504: 10}  # wallets left empty open no grant
Grants = dict[int, tuple[object, ...]]  # user id -> the grant's facts


def _database(url: str) -> Database:
    return Database(Settings(_env_file=None, BILLING_ENV="development", DATABASE_URL=url))


async def _fill_wallets_as_0010_did(url: str) -> None:
    database, now = _database(url), datetime.now(UTC)
    async with database.engine.begin() as connection:
        for user_id, changes in POSTINGS.items():
            wallet = await connection.scalar(
                insert(CreditAccount)
                .values(kind="wallet", user_id=user_id, balance=sum(changes), created_at=now)
                .values(updated_at=now)
                .returning(CreditAccount.id)
            )
            running = 0
            for number, change in enumerate(changes):
                running += change
                kind = PURCHASE if change > 0 else SPEND
                transaction = await connection.scalar(
                    insert(CreditTransaction)
                    .values(kind=kind.name, user_id=user_id, amount=abs(change), created_at=now)
                    .values(idempotency_key=f"0010:{user_id}:{number}", actor="test")
                    .values(fingerprint=f"{kind.name}:{user_id}:{abs(change)}")
                    .returning(CreditTransaction.id)
                )
                await connection.execute(
                    insert(CreditEntry),
                    [
                        {
                            "transaction_id": transaction,
                            "account_id": wallet,
                            "amount": change,
                            "balance_after": running,
                        },
                        {
                            "transaction_id": transaction,
                            "account_id": kind.system_account_id,
                            "amount": -change,
                            "balance_after": None,
                        },
                    ],
                )
    await database.dispose()


async def _grants_and_report(url: str) -> tuple[Grants, LedgerReport]:
    """Each user's grant (and the user whose wallet holds it), and verify-ledger's report."""
    database = _database(url)
    async with database.sessions() as session, session.begin():
        owned = select(CreditGrant, CreditAccount.user_id).join(
            CreditAccount, CreditAccount.id == CreditGrant.account_id
        )
        rows = (await session.execute(owned)).all()
        opening_lines = select(CreditGrantEntry.grant_id, CreditGrantEntry.amount).where(
            CreditGrantEntry.transaction_id.is_(None)
        )
        openings = {grant_id: amount for grant_id, amount in await session.execute(opening_lines)}
    async with database.sessions() as session, session.begin():
        report = await verify_ledger(session)  # first in its session: a snapshot of its own
    await database.dispose()
    assert openings == {grant.id: grant.amount for grant, _ in rows}, "opened whole, once"
    grants: Grants = {
        grant.user_id: (
            owner,
            grant.source,
            grant.amount,
            grant.remaining,
            grant.priority,
            grant.status,
            grant.expires_at,
            grant.transaction_id,
        )
        for grant, owner in rows
    }
    assert len(grants) == len(rows), "one grant per wallet at most"
    return grants, report


def test_each_balance_becomes_one_never_expiring_purchase_grant(empty_database: str) -> None:
    """On SQLite too, where 0010's wallets took the ids after the system accounts'."""
    upgrade(empty_database, BEFORE_GRANTS)
    asyncio.run(_fill_wallets_as_0010_did(empty_database))

    upgrade(empty_database)

    grants, report = asyncio.run(_grants_and_report(empty_database))
    assert grants == {
        user_id: (user_id, "purchase", balance, balance, 50, "active", None, None)
        for user_id, balance in CARRIED_OVER.items()
    }
    assert report.ok, report.failures
