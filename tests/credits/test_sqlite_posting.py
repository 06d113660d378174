"""SQLite's plain-statement postings write what the ORM would: times in SQLAlchemy's text
form (a time stored any other way compares wrongly with the rest), JSON as JSON."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import text

from billing.core.times import utcnow
from billing.credits import service
from billing.credits.accounts import ADMIN_GRANT, SPEND
from billing.credits.grants import GrantTerms
from billing.credits.transfers import Transfer
from billing.db.engine import Database

SQLALCHEMY_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
TIMES = {  # the rows the postings wrote (the migrations wrote the system accounts)
    "credit_accounts WHERE kind = 'wallet'": ("created_at", "updated_at"),
    "credit_transactions": ("created_at", "expires_at"),
    "credit_grants": ("effective_at", "expires_at", "created_at", "updated_at"),
    "audit_log": ("created_at",),
}


async def test_times_and_json_are_stored_as_sqlalchemy_stores_them(
    sqlite_database: Database,
) -> None:
    expires = utcnow() + timedelta(days=3)
    grant = Transfer(
        ADMIN_GRANT,
        5,
        100,
        actor="admin:1",
        idempotency_key="g",
        description="x",
        metadata={"plan": "pro"},
        grant=GrantTerms("promotion", None, expires),
    )
    await service.post(sqlite_database, grant)
    await service.post(sqlite_database, Transfer(SPEND, 5, 30, actor="user:5"))
    async with sqlite_database.sessions() as session:
        for table, columns in TIMES.items():
            for column in columns:
                stored = await session.scalars(text(f"SELECT {column} FROM {table}"))  # noqa: S608
                values = [value for value in stored if value is not None]
                assert values, (table, column)
                assert all(SQLALCHEMY_TIME.match(value) for value in values), (table, values)
        metadata = await session.scalar(
            text("SELECT json_extract(metadata, '$.plan') FROM credit_transactions LIMIT 1")
        )
        assert metadata == "pro"
        (remaining,) = (await session.execute(text("SELECT remaining FROM credit_grants"))).one()
        assert remaining == 70
