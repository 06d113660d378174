"""`verify_ledger` names each grant invariant a tampered ledger breaks, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from billing.core.config import Settings
from billing.core.times import utcnow
from billing.credits.accounts import ADMIN_GRANT, SPEND
from billing.credits.grants import GrantTerms
from billing.credits.service import post
from billing.credits.transfers import Transfer
from billing.credits.verify import verify_ledger
from billing.db.engine import Database

pytestmark = pytest.mark.ledger_tampered


@pytest.fixture
async def ledger(database_url: str) -> AsyncIterator[Database]:
    """User 5 holds two grants (100 expiring in a day, 50 never) and spent 40 of them."""
    database = Database(
        Settings(_env_file=None, BILLING_ENV="development", DATABASE_URL=database_url)
    )
    expiring = GrantTerms("admin", expires_at=utcnow() + timedelta(days=1))
    await post(database, Transfer(ADMIN_GRANT, 5, 100, actor="test", grant=expiring))
    await post(database, Transfer(ADMIN_GRANT, 5, 50, actor="test"))
    await post(database, Transfer(SPEND, 5, 40, actor="test"))
    yield database
    await database.dispose()


async def _failures(database: Database, *tampering: str) -> set[str]:
    async with database.engine.begin() as connection:
        for statement in tampering:
            await connection.execute(text(statement))
    async with database.sessions() as session, session.begin():
        return set((await verify_ledger(session)).failures)


async def test_an_untouched_ledger_verifies(ledger: Database) -> None:
    assert await _failures(ledger) == set()


async def test_a_grant_whose_remaining_disagrees_with_its_entries(ledger: Database) -> None:
    failures = await _failures(
        ledger, "UPDATE credit_grants SET remaining = remaining - 1 WHERE amount = 100"
    )
    assert "every grant's remaining equals the sum of its grant entries" in failures
    assert "every wallet's balance equals what its active grants hold" in failures


async def test_a_wallet_holding_more_than_its_grants(ledger: Database) -> None:
    failures = await _failures(
        ledger, "UPDATE credit_accounts SET balance = balance + 5 WHERE user_id = 5"
    )
    assert "every wallet's balance equals what its active grants hold" in failures


async def test_a_wallet_entry_not_split_among_grants(ledger: Database) -> None:
    failures = await _failures(
        ledger,
        "INSERT INTO credit_grant_entries (transaction_id, grant_id, amount)"
        " SELECT MAX(t.id), MIN(g.id), -1 FROM credit_transactions t, credit_grants g",
    )
    assert "every wallet entry since grants began is split among grants" in failures


async def test_a_grant_debited_after_it_expired(ledger: Database) -> None:
    failures = await _failures(
        ledger, "UPDATE credit_grants SET expires_at = created_at WHERE amount = 100"
    )
    assert failures == {"no grant was debited at or after its expiry, but by the expiry itself"}


async def test_a_grant_entry_naming_no_grant(ledger: Database) -> None:
    failures = await _failures(
        ledger,
        "INSERT INTO credit_grant_entries (transaction_id, grant_id, amount)"
        " SELECT MAX(id), 999999, 1 FROM credit_transactions",
    )
    assert (
        "every grant entry names a grant, and a transaction unless it opened a carried balance"
        in failures
    )


@pytest.mark.parametrize(
    "orphan",
    [
        "INSERT INTO credit_entries (account_id, transaction_id, amount)"
        " SELECT 999999, MAX(id), 1 FROM credit_transactions",
        "INSERT INTO credit_entries (account_id, transaction_id, amount) VALUES (3, 999999, 1)",
    ],
    ids=["no account", "no transaction"],
)
async def test_an_entry_naming_nothing(ledger: Database, orphan: str) -> None:
    failures = await _failures(ledger, orphan)
    assert "every entry names an account and a transaction" in failures
