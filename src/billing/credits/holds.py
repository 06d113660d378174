"""Holds: credits reserved now and settled later (an LLM call, a job of unknown length).

Placing a hold is an ordinary debit (kind `hold`: wallet -> `held`, drawn from the
grants in consumption order, its grant entries saying which) that writes the hold's row
in the same database transaction: on PostgreSQL one statement around `credit_debit`.
Settling it is `hold_settlement`'s. A hold stays active until it is captured, released,
or released by the worker once past its `expires_at` (`credits.jobs`).

Every posting is keyed, so a request replayed after the first one died mid-way answers
with what the first did (the original hold, or the settlement) instead of acting twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing.core.errors import (
    Conflict,
    HoldNotActive,
    IdempotencyConflict,
    NotFound,
    ValidationProblem,
)
from billing.core.pagination import decode_cursor, encode_cursor
from billing.core.times import utcnow
from billing.credits import hold_repository, hold_settlement, repository, service, stepwise
from billing.credits.accounts import HOLD
from billing.credits.hold_repository import FIELDS, HoldView
from billing.credits.hold_settlement import Settled, Settlement
from billing.credits.hooks import HOOKS
from billing.credits.models import HOLD_ACTIVE
from billing.credits.single_statement import DEBIT, arguments_for, fetch_committed
from billing.credits.transfers import Transfer
from billing.db.engine import Database
from billing.db.statements import read_without_transaction

DEFAULT_EXPIRES_IN, MAX_EXPIRES_IN = 900, 7 * 24 * 3600  # seconds
# The debit and the hold's row in one statement; $24 is the hold's expiry.
PLACE = f"""
WITH posted AS ({DEBIT}),
hold AS (
    INSERT INTO credit_holds (user_id, account_id, amount, captured, status, expires_at,
                              description, metadata, hold_transaction_id, created_at)
    SELECT $1, a.id, posted.amount, 0, '{HOLD_ACTIVE}', $24, $9, $10, posted.id, $3
    FROM posted JOIN credit_accounts a ON a.user_id = $1 AND a.kind = 'wallet'
    RETURNING {", ".join(FIELDS)}
)
SELECT hold.*, posted.balance FROM hold, posted
"""  # noqa: S608 (constants only)


@dataclass(frozen=True, slots=True)
class NewHold:
    user_id: int
    amount: int
    actor: str
    expires_in: int = DEFAULT_EXPIRES_IN
    description: str | None = None
    metadata: dict[str, Any] | None = None
    idempotency_key: str | None = None

    def transfer(self) -> Transfer:
        return Transfer(
            kind=HOLD,
            user_id=self.user_id,
            amount=self.amount,
            actor=self.actor,
            idempotency_key=self.idempotency_key,
            description=self.description,
            metadata=self.metadata,
        )


@dataclass(frozen=True, slots=True)
class Placed:
    hold: HoldView
    balance: int  # the wallet's, after the hold
    replayed: bool = False


async def place(database: Database, request: NewHold) -> Placed:
    """Reserve `amount` credits until `expires_in` seconds from now; 402 if short."""
    transfer = request.transfer()
    key = service.transaction_key(transfer.idempotency_key)
    now = utcnow()
    expires_at = now + timedelta(seconds=request.expires_in)
    if database.dialect == "postgresql":
        arguments = (*arguments_for(transfer, key, now), expires_at)
        row = await fetch_committed(database, PLACE, arguments, transfer.user_id)
        placed = Placed(HoldView.of(row), row["balance"]) if row else None
    else:
        async with database.sessions() as session, session.begin():
            placed = await _place_stepwise(session, transfer, key, now, expires_at)
    if placed is None:
        return await _placed_before(database, transfer)
    HOOKS.announce_posted(transfer)
    return placed


async def _place_stepwise(
    session: AsyncSession, transfer: Transfer, key: str, now: datetime, expires_at: datetime
) -> Placed | None:
    outcome = await stepwise.apply(session, transfer, key, now)
    if outcome is None:
        return None
    transaction_id, balance, amount, _ = outcome
    wallet = await repository.wallet(session, transfer.user_id)
    assert wallet is not None, "a debit needs a wallet"
    values = {
        "user_id": transfer.user_id,
        "account_id": wallet.id,
        "amount": amount,
        "captured": 0,
        "status": HOLD_ACTIVE,
        "expires_at": expires_at,
        "description": transfer.description,
        "metadata_": transfer.metadata,
        "hold_transaction_id": transaction_id,
        "created_at": now,
    }
    return Placed(await hold_repository.insert_hold(session, values), balance)


async def _placed_before(database: Database, transfer: Transfer) -> Placed:
    """Nothing was posted: the hold this key placed before, else the refusal (402, 409)."""
    posted = await service.refused(database, transfer)
    async with database.sessions() as session:
        await read_without_transaction(session)
        hold = await hold_repository.hold_placed_by(session, posted.transaction_id)
    assert hold is not None, "a hold's transaction and its row are written together"
    return Placed(hold, posted.balance, replayed=True)


async def settle(database: Database, settlement: Settlement) -> Settled:
    """Capture, release or expire a hold; 404 if the user has no such hold, 409
    `hold_not_active` if it is settled already, 422 for a capture above it."""
    key = service.transaction_key(settlement.idempotency_key)
    now = utcnow()
    if database.dialect == "postgresql":
        settled = await hold_settlement.on_postgres(database, settlement, key, now)
    else:
        async with database.sessions() as session, session.begin():
            settled = await hold_settlement.stepwise(session, settlement, key, now)
    if settled is None:
        return await _why_not_settled(database, settlement, now)
    amount = settled.hold.captured or settled.hold.amount
    HOOKS.announce_posted(Transfer(settlement.kind, settlement.user_id, amount, settlement.actor))
    return settled


async def _why_not_settled(database: Database, settlement: Settlement, now: datetime) -> Settled:
    """The settlement at `now` wrote nothing: the replay of an earlier one, or why not."""
    async with database.sessions() as session:
        await read_without_transaction(session)
        hold = await hold_repository.hold_of(session, settlement.user_id, settlement.hold_id)
        if hold is None:
            raise NotFound("No such hold for this user.")
        replay = await _settled_before(session, settlement)
        if replay is not None:
            return replay
    if hold.status != HOLD_ACTIVE:
        raise HoldNotActive(f"This hold is {hold.status}: only an active hold can be settled.")
    if not settlement.due and hold.expires_at <= now:
        raise HoldNotActive("This hold expired: the worker returns its credits to the wallet.")
    if settlement.capture is not None and settlement.capture > hold.amount:
        raise ValidationProblem(f"amount: at most the {hold.amount} credits the hold holds.")
    raise Conflict("This hold is not due yet.")


async def _settled_before(session: AsyncSession, settlement: Settlement) -> Settled | None:
    """The settlement this key made before, if it did; a conflict if it did another."""
    if settlement.idempotency_key is None:
        return None
    found = await repository.transaction_by_key(session, settlement.idempotency_key)
    if found is None:
        return None
    original = found[0]
    if original.fingerprint != settlement.fingerprint:
        raise IdempotencyConflict("This idempotency key was used for a different credit operation.")
    hold = await hold_repository.hold_settled_by(session, original.id)
    assert hold is not None, "a settlement and its hold are written together"
    expiry = await repository.transaction_by_key(session, settlement.expiry_key)
    wallet = await repository.wallet(session, settlement.user_id)
    assert wallet is not None, "a hold needs a wallet"
    last = expiry[0].id if expiry is not None else original.id
    balance = await hold_repository.balance_as_of(session, wallet.id, last)
    return Settled(hold, original.id, balance, replayed=True)


async def list_holds(
    session: AsyncSession, user_id: int, active_only: bool, cursor: str | None, limit: int
) -> tuple[list[HoldView], str | None]:
    """One page of a user's holds, newest first, and the cursor of the next page."""
    before = decode_cursor(cursor)
    await read_without_transaction(session)
    rows = await hold_repository.holds_of(session, user_id, active_only, before, limit + 1)
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor
