"""The worker's sweeps: lapsed grants expire, and holds past their expiry are released.

A lapsed grant is already spent by nothing and counted in no balance (`credits.grants`);
the expiry sweep makes the ledger say so, one `expiry` per grant (key `expiry:<grant
id>`). A hold stays active until settled; once past its `expires_at` the hold sweep
releases it (status `expired`, key `hold:<hold id>:expire`). Every worker runs both:
the keys and the row locks (the wallet's, the hold's) make a second worker's attempt a
replay, and what was spent, voided or settled meanwhile is skipped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.errors import Conflict, HoldNotActive
from billing.core.times import utcnow
from billing.credits import hold_repository, holds, repository, service
from billing.credits.accounts import EXPIRY, HOLD_RELEASE
from billing.credits.hold_settlement import Settlement
from billing.credits.models import HOLD_EXPIRED
from billing.credits.transfers import Transfer
from billing.db.engine import Database
from billing.db.statements import read_without_transaction

EXPIRY_INTERVAL = 20.0  # seconds between sweeps: each grant expires within a minute
HOLD_INTERVAL = 20.0  # and each hold is released within a minute of its expiry
EXPIRY_BATCH = 500
ACTOR = "system:expiry"
HOLD_ACTOR = "system:holds"

Due = Callable[[AsyncSession, datetime, int], Awaitable[Sequence[tuple[Any, ...]]]]


def expiry_key(grant_id: int) -> str:
    return f"expiry:{grant_id}"


def hold_expiry_key(hold_id: int) -> str:
    return f"hold:{hold_id}:expire"


async def expire_due(database: Database) -> int:
    """Sweep every lapsed grant; how many this call expired."""
    return await _sweep(database, repository.lapsed_grants, _expire)


async def release_due_holds(database: Database) -> int:
    """Release every active hold past its expiry; how many this call released."""
    return await _sweep(database, hold_repository.due_holds, _release)


async def _sweep(
    database: Database, due: Due, act: Callable[[Database, Any], Awaitable[int]]
) -> int:
    """Act on each due row, a batch at a time, until a batch is not full."""
    done = 0
    while True:
        async with database.sessions() as session:
            await read_without_transaction(session)
            rows = await due(session, utcnow(), EXPIRY_BATCH)
        for row in rows:
            done += await act(database, row)
        if len(rows) < EXPIRY_BATCH:
            return done


async def _expire(database: Database, row: tuple[int, int, int]) -> int:
    grant_id, user_id, remaining = row
    transfer = Transfer(
        kind=EXPIRY,
        user_id=user_id,
        amount=remaining,
        actor=ACTOR,
        idempotency_key=expiry_key(grant_id),
        grant_id=grant_id,
    )
    try:
        posted = await service.post(database, transfer)
    except Conflict:  # spent, voided or swept meanwhile: nothing left to expire
        return 0
    return 0 if posted.replayed else 1


async def _release(database: Database, row: tuple[int, int]) -> int:
    hold_id, user_id = row
    settlement = Settlement(
        hold_id=hold_id,
        user_id=user_id,
        kind=HOLD_RELEASE,
        status=HOLD_EXPIRED,
        actor=HOLD_ACTOR,
        idempotency_key=hold_expiry_key(hold_id),
        due=True,
    )
    try:
        settled = await holds.settle(database, settlement)
    except HoldNotActive:  # captured or released meanwhile
        return 0
    return 0 if settled.replayed else 1
