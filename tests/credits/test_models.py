"""The database itself guards the ledger: immutable rows and non-negative wallets."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from billing.credits.models import CreditAccount, CreditEntry, CreditTransaction
from billing.db.engine import Database
from tests.conftest import Credentials
from tests.support.credits import add, spend


@pytest.fixture
async def funded(client: httpx.AsyncClient, creds: Credentials) -> int:
    await add(client, creds.admin(), 11, 50)
    await spend(client, creds.bearer(11), 11, 20)
    return 11


@pytest.mark.parametrize(
    "statement",
    [
        update(CreditTransaction).values(amount=1),
        delete(CreditTransaction),
        update(CreditEntry).values(amount=1),
        delete(CreditEntry),
    ],
    ids=["update transaction", "delete transaction", "update entry", "delete entry"],
)
async def test_ledger_rows_cannot_be_changed(
    database: Database, funded: int, statement: object
) -> None:
    async with database.sessions() as session:
        with pytest.raises(DBAPIError, match="immutable"):
            async with session.begin():
                await session.execute(statement)  # type: ignore[call-overload]


async def test_a_wallet_cannot_go_below_zero_even_by_hand(database: Database, funded: int) -> None:
    async with database.sessions() as session:
        with pytest.raises(DBAPIError, match=r"ck_credit_accounts_wallet_or_system|CHECK"):
            async with session.begin():
                await session.execute(
                    update(CreditAccount)
                    .where(CreditAccount.user_id == funded)
                    .values(balance=CreditAccount.balance - 31)
                )


async def test_system_accounts_keep_no_cached_balance(database: Database, funded: int) -> None:
    async with database.sessions() as session:
        rows = await session.execute(
            text("SELECT balance FROM credit_accounts WHERE kind = 'system'")
        )
        assert {balance for (balance,) in rows} == {None}
