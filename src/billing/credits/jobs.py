"""The expiry sweep: what lapsed grants still hold leaves the wallet, one `expiry` each.

A lapsed grant is already spent by nothing and counted in no balance (`credits.grants`);
the sweep makes the ledger say so. Every worker runs it: the key `expiry:<grant id>`
and the wallet lock make a second worker's attempt a replay, and a grant spent, voided
or swept meanwhile is skipped.
"""

from __future__ import annotations

from billing.core.errors import Conflict
from billing.core.times import utcnow
from billing.credits import repository, service
from billing.credits.accounts import EXPIRY
from billing.credits.transfers import Transfer
from billing.db.engine import Database
from billing.db.statements import read_without_transaction

EXPIRY_INTERVAL = 20.0  # seconds between sweeps: each grant expires within a minute
EXPIRY_BATCH = 500
ACTOR = "system:expiry"


def expiry_key(grant_id: int) -> str:
    return f"expiry:{grant_id}"


async def expire_due(database: Database) -> int:
    """Sweep every lapsed grant; how many this call expired."""
    expired = 0
    while True:
        async with database.sessions() as session:
            await read_without_transaction(session)
            due = await repository.lapsed_grants(session, utcnow(), EXPIRY_BATCH)
        for grant_id, user_id, remaining in due:
            expired += await _expire(database, grant_id, user_id, remaining)
        if len(due) < EXPIRY_BATCH:
            return expired


async def _expire(database: Database, grant_id: int, user_id: int, remaining: int) -> int:
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
