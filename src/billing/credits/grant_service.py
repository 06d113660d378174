"""Reading a wallet's grants, and voiding one.

A grant past its `expires_at` reads as `expired` with nothing remaining, whether or not the
expiry job has swept it: what a user is shown is what they can spend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.errors import Conflict, NotFound
from billing.core.times import utcnow
from billing.credits import repository, service
from billing.credits.accounts import VOID
from billing.credits.models import ACTIVE, DEPLETED, EXPIRED, VOIDED, CreditGrant
from billing.credits.transfers import Posted, Transfer
from billing.db.engine import Database
from billing.db.statements import read_without_transaction

STATUSES = (ACTIVE, DEPLETED, EXPIRED, VOIDED)


@dataclass(frozen=True, slots=True)
class GrantView:
    """A grant as of `now`."""

    grant: CreditGrant
    status: str
    remaining: int


def as_of(grant: CreditGrant, now: datetime) -> GrantView:
    if grant.status == ACTIVE and grant.expires_at is not None and grant.expires_at <= now:
        return GrantView(grant, EXPIRED, 0)
    return GrantView(grant, grant.status, grant.remaining)


async def list_grants(session: AsyncSession, user_id: int, status: str | None) -> list[GrantView]:
    """The user's grants in consumption order; `status` as of now, None for all."""
    await read_without_transaction(session)
    now = utcnow()
    found = await repository.grants_of(session, user_id, status, now)
    return [as_of(one, now) for one in found]


async def grant(session: AsyncSession, user_id: int, grant_id: int) -> GrantView:
    await read_without_transaction(session)
    found = await repository.grant_of(session, user_id, grant_id)
    if found is None:
        raise NotFound("No such grant for this user.")
    return as_of(found, utcnow())


async def void(
    database: Database, user_id: int, grant_id: int, *, reason: str, actor: str, key: str | None
) -> tuple[Posted, GrantView]:
    """Remove what remains of an active grant (kind `void`); 409 for any other."""
    async with database.sessions() as session:
        before = await grant(session, user_id, grant_id)
    if before.grant.status == ACTIVE and before.status == EXPIRED:
        raise Conflict("This grant has expired: its credits go to expiry, not to a void.")
    transfer = Transfer(
        kind=VOID,
        user_id=user_id,
        amount=before.grant.remaining,
        actor=actor,
        idempotency_key=key,
        description=reason,
        grant_id=grant_id,
    )
    posted = await service.post(database, transfer)
    async with database.sessions() as session:
        return posted, await grant(session, user_id, grant_id)
