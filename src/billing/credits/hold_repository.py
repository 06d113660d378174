"""SQL for holds: reading them, and the statements SQLite settles one with.

PostgreSQL settles a hold in one round trip instead (`credit_hold_settle`, migration
0012); both read a hold the same way (`HoldView.of`), from a row of these columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import Column, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.grants import consumption_order
from billing.credits.models import (
    ACTIVE,
    EXPIRED,
    HOLD_ACTIVE,
    VOIDED,
    CreditAccount,
    CreditEntry,
    CreditGrant,
    CreditGrantEntry,
    CreditHold,
)

FIELDS = (
    "id",
    "user_id",
    "amount",
    "captured",
    "status",
    "expires_at",
    "description",
    "metadata",
    "created_at",
    "settled_at",
)
COLUMNS: tuple[Column[Any], ...] = tuple(CreditHold.__table__.c[name] for name in FIELDS)


class Keyed(Protocol):
    """A row read by column name: SQLAlchemy's `Row._mapping` or asyncpg's `Record`."""

    def __getitem__(self, key: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class HoldView:
    id: int
    user_id: int
    amount: int
    captured: int
    status: str
    expires_at: datetime
    description: str | None
    metadata: dict[str, Any] | None
    created_at: datetime
    settled_at: datetime | None

    @classmethod
    def of(cls, row: Keyed) -> HoldView:
        """From a row of `FIELDS`; asyncpg hands JSON over as text."""
        values = {name: row[name] for name in FIELDS}
        if isinstance(values["metadata"], str):
            values["metadata"] = orjson.loads(values["metadata"])
        return cls(**values)


async def _one(session: AsyncSession, *conditions: Any) -> HoldView | None:
    row = (await session.execute(select(*COLUMNS).where(*conditions))).first()
    return HoldView.of(row._mapping) if row is not None else None


async def hold_of(session: AsyncSession, user_id: int, hold_id: int) -> HoldView | None:
    return await _one(session, CreditHold.id == hold_id, CreditHold.user_id == user_id)


async def hold_placed_by(session: AsyncSession, transaction_id: int) -> HoldView | None:
    return await _one(session, CreditHold.hold_transaction_id == transaction_id)


async def hold_settled_by(session: AsyncSession, transaction_id: int) -> HoldView | None:
    return await _one(session, CreditHold.settlement_transaction_id == transaction_id)


async def holds_of(
    session: AsyncSession, user_id: int, active_only: bool, before_id: int | None, limit: int
) -> list[HoldView]:
    """A user's holds, newest first."""
    statement = select(*COLUMNS).where(CreditHold.user_id == user_id)
    if active_only:
        statement = statement.where(CreditHold.status == HOLD_ACTIVE)
    if before_id is not None:
        statement = statement.where(CreditHold.id < before_id)
    rows = await session.execute(statement.order_by(CreditHold.id.desc()).limit(limit))
    return [HoldView.of(row._mapping) for row in rows]


async def held(session: AsyncSession, user_id: int) -> int:
    """What the user's active holds reserve."""
    total = await session.scalar(
        select(func.coalesce(func.sum(CreditHold.amount), 0)).where(
            CreditHold.user_id == user_id, CreditHold.status == HOLD_ACTIVE
        )
    )
    return int(total or 0)


async def due_holds(session: AsyncSession, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(id, user id) of active holds past their expiry, soonest first."""
    statement = (
        select(CreditHold.id, CreditHold.user_id)
        .where(CreditHold.status == HOLD_ACTIVE, CreditHold.expires_at <= now)
        .order_by(CreditHold.expires_at, CreditHold.id)
        .limit(limit)
    )
    return [(row.id, row.user_id) for row in await session.execute(statement)]


async def balance_as_of(session: AsyncSession, account_id: int, transaction_id: int) -> int:
    """The wallet's balance right after its last entry up to `transaction_id`."""
    after = await session.scalar(
        select(CreditEntry.balance_after)
        .where(CreditEntry.account_id == account_id, CreditEntry.transaction_id <= transaction_id)
        .order_by(CreditEntry.transaction_id.desc(), CreditEntry.id.desc())
        .limit(1)
    )
    return int(after or 0)


async def insert_hold(session: AsyncSession, values: dict[str, Any]) -> HoldView:
    row = (await session.execute(insert(CreditHold).values(values).returning(*COLUMNS))).one()
    return HoldView.of(row._mapping)


async def locked_hold(session: AsyncSession, user_id: int, hold_id: int) -> CreditHold | None:
    """The hold to settle. SQLite's `BEGIN IMMEDIATE` already excludes other writers."""
    found: CreditHold | None = await session.scalar(
        select(CreditHold).where(CreditHold.id == hold_id, CreditHold.user_id == user_id)
    )
    return found


async def grants_held(
    session: AsyncSession, transaction_id: int, now: datetime
) -> list[tuple[int, int, bool]]:
    """(grant id, credits taken, dead) of what a hold's transaction took, in the order a
    capture takes them back: dead grants (expired, swept or not, or voided: they can no
    longer take credits back) first, then in consumption order."""
    dead = or_(
        CreditGrant.status.in_((EXPIRED, VOIDED)),
        and_(CreditGrant.expires_at.is_not(None), CreditGrant.expires_at <= now),
    )
    statement = (
        select(CreditGrant.id, -CreditGrantEntry.amount, dead.label("dead"))
        .join(CreditGrantEntry, CreditGrantEntry.grant_id == CreditGrant.id)
        .where(CreditGrantEntry.transaction_id == transaction_id)
        .order_by(dead.desc(), *consumption_order())
    )
    rows = await session.execute(statement)
    return [(grant_id, took, bool(gone)) for grant_id, took, gone in rows]


async def add_to_wallet(session: AsyncSession, account_id: int, amount: int, now: datetime) -> int:
    """The wallet's balance after adding `amount` (credits a settlement gives back)."""
    statement = (
        update(CreditAccount)
        .where(CreditAccount.id == account_id)
        .values(balance=CreditAccount.balance + amount, updated_at=now)
        .returning(CreditAccount.balance)
    )
    balance = (await session.execute(statement)).scalar_one()
    assert balance is not None, "a wallet has a balance"
    return balance


async def reopen_grants(
    session: AsyncSession, returned: list[tuple[int, int]], now: datetime
) -> None:
    """Give each grant back what a hold took from it: active again, if it was depleted."""
    for grant_id, amount in returned:
        await session.execute(
            update(CreditGrant)
            .where(CreditGrant.id == grant_id)
            .values(remaining=CreditGrant.remaining + amount, status=ACTIVE, updated_at=now)
        )


async def mark_settled(session: AsyncSession, hold: CreditHold, values: dict[str, Any]) -> HoldView:
    statement = (
        update(CreditHold).where(CreditHold.id == hold.id).values(values).returning(*COLUMNS)
    )
    return HoldView.of((await session.execute(statement)).one()._mapping)
