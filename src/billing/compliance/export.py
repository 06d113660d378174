"""Export of everything the service holds about a user's payments, as one JSON document.

{"user_id", "generated_at", "customer": {stripe_customer_id, email, name, created_at,
erased_at} | null, "credit_balance": {user_id, balance, updated_at, held, expiring: [{amount,
expires_at}]}, "credit_settings": {low_balance_threshold, auto_topup}, "payments": [...],
"subscriptions": [...], "auto_topups": [...], "credit_grants": [...],
"credit_transactions": [{..., "entries": [{"account", "amount", "balance_after"}]}],
"audit_entries": [...]}

Rows are written with every stored column (so new columns are exported without
anyone remembering to), oldest first. The balance and the grants are what the user is
shown (`GET /credits/{user_id}` and `.../grants`): a grant past its expiry reads `expired`
with nothing remaining, whether or not the expiry job has swept it. The document is
streamed: each section is
read in pages of `PAGE_SIZE` rows, each page in its own short read, so a user with
a million ledger transactions costs memory for one page, and no database lock or
connection is held while the client reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from billing.audit.models import AuditEntry
from billing.core.config import Settings
from billing.core.encryption import decrypt_optional
from billing.core.times import utcnow
from billing.credits import balances
from billing.credits.grant_service import as_of
from billing.credits.models import CreditAccount, CreditEntry, CreditGrant, CreditTransaction
from billing.db.engine import Database
from billing.db.statements import read_without_transaction
from billing.db.types import Base
from billing.payments.auto_topup import settings as auto_topup_settings
from billing.payments.auto_topup.models import AutoTopup
from billing.payments.models import Payment, StripeCustomer, Subscription

PAGE_SIZE = 500
Record = dict[str, Any]
# (session, user_id, after_id, limit) -> the next rows as (id, record), in id order
Page = Callable[[AsyncSession, int, int, int], Awaitable[list[tuple[int, Record]]]]


def columns(row: Base, skip: frozenset[str] = frozenset()) -> Record:
    """Every stored column of `row`, by column name."""
    named = (
        (str(attribute.columns[0].name), attribute.key)
        for attribute in inspect(row).mapper.column_attrs
    )
    return {name: getattr(row, key) for name, key in named if name not in skip}


def _rows(
    model: type[Base],
    row_id: InstrumentedAttribute[int],
    user: InstrumentedAttribute[int | None] | InstrumentedAttribute[int],
    skip: frozenset[str] = frozenset(),
    shown: Callable[[Any], Record] | None = None,
) -> Page:
    """Pages of a user's rows; `shown` gives the values that replace stored ones."""

    async def page(
        session: AsyncSession, user_id: int, after: int, limit: int
    ) -> list[tuple[int, Record]]:
        found = await session.scalars(
            select(model).where(user == user_id, row_id > after).order_by(row_id).limit(limit)
        )
        return [
            (getattr(row, row_id.key), columns(row, skip) | (shown(row) if shown else {}))
            for row in found
        ]

    return page


_transactions = _rows(
    CreditTransaction,
    CreditTransaction.id,
    CreditTransaction.user_id,
    skip=frozenset({"fingerprint", "idempotency_key"}),  # the ledger's own bookkeeping
)


async def _ledger(
    session: AsyncSession, user_id: int, after: int, limit: int
) -> list[tuple[int, Record]]:
    """The user's credit transactions, each with its entries (wallet and system side)."""
    page = await _transactions(session, user_id, after, limit)
    entries: dict[int, list[Record]] = {}
    if page:
        found = await session.execute(
            select(
                CreditEntry.transaction_id,
                CreditAccount.kind,
                CreditAccount.name,
                CreditEntry.amount,
                CreditEntry.balance_after,
            )
            .join(CreditAccount, CreditAccount.id == CreditEntry.account_id)
            .where(CreditEntry.transaction_id.in_([row_id for row_id, _ in page]))
            .order_by(CreditEntry.id)
        )
        for transaction_id, kind, name, amount, balance_after in found:
            entries.setdefault(transaction_id, []).append(
                {
                    "account": "wallet" if kind == "wallet" else name,
                    "amount": amount,
                    "balance_after": balance_after,
                }
            )
    return [(row_id, record | {"entries": entries.get(row_id, [])}) for row_id, record in page]


def _as_shown(grant: CreditGrant) -> Record:
    view = as_of(grant, utcnow())
    return {"status": view.status, "remaining": view.remaining}


SECTIONS: tuple[tuple[str, Page], ...] = (
    ("payments", _rows(Payment, Payment.id, Payment.user_id)),
    ("subscriptions", _rows(Subscription, Subscription.id, Subscription.user_id)),
    ("auto_topups", _rows(AutoTopup, AutoTopup.id, AutoTopup.user_id)),
    ("credit_grants", _rows(CreditGrant, CreditGrant.id, CreditGrant.user_id, shown=_as_shown)),
    ("credit_transactions", _ledger),
    ("audit_entries", _rows(AuditEntry, AuditEntry.id, AuditEntry.user_id, frozenset({"txid"}))),
)


async def customer_record(session: AsyncSession, settings: Settings, user_id: int) -> Record | None:
    """The user's Stripe customer with its personal data decrypted (null once erased): the
    current one, else the one erased last (the newest row either way)."""
    row = await session.scalar(
        select(StripeCustomer)
        .where(StripeCustomer.user_id == user_id)
        .order_by(StripeCustomer.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    return {
        "stripe_customer_id": row.stripe_customer_id,
        "email": decrypt_optional(settings, row.email_encrypted),
        "name": decrypt_optional(settings, row.name_encrypted),
        "created_at": row.created_at,
        "erased_at": row.erased_at,
    }


async def open_export(
    database: Database, settings: Settings, user_id: int, page_size: int = PAGE_SIZE
) -> AsyncIterator[bytes]:
    """The export as chunks of JSON text. The customer is read (and decrypted) before
    this returns, so a missing key is an error response, not a truncated document."""
    async with database.sessions() as session:
        balance = await balances.balance(session, user_id)  # reads outside a transaction
        customer = await customer_record(session, settings, user_id)
    async with database.sessions() as session:
        credit_settings = await auto_topup_settings.read(session, user_id)
    head = {
        "user_id": user_id,
        "generated_at": utcnow(),
        "customer": customer,
        "credit_balance": balance,  # a dataclass: orjson writes every field
        "credit_settings": credit_settings.model_dump(exclude={"user_id"}),
    }
    return _stream(database, user_id, orjson.dumps(head), page_size)


async def _stream(
    database: Database, user_id: int, head: bytes, page_size: int
) -> AsyncIterator[bytes]:
    yield head[:-1]  # the object stays open for the sections
    for name, page in SECTIONS:
        yield b',"' + name.encode() + b'":['
        after, separator = 0, b""
        while True:
            async with database.sessions() as session:
                await read_without_transaction(session)
                rows = await page(session, user_id, after, page_size)
            if rows:
                yield separator + b",".join(orjson.dumps(record) for _, record in rows)
                separator, after = b",", rows[-1][0]
            if len(rows) < page_size:
                break
        yield b"]"
    yield b"}"
