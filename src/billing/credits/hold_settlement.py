"""Settling a hold: one database transaction takes all it holds out of `held`.

The captured part goes to `usage`, taken first from the grants that can no longer take
credits back (expired, swept or not, and voided), then in consumption order, so as few
credits as possible are lost; the rest goes back into the grants it came from (a depleted
one is active again). What goes back to a dead grant is expired at once by an `expiry`
transaction (key `hold:<id>:expiry`): it never counts again. So a capture always
succeeds up to the held amount, whatever expired meanwhile.

The wallet's row is locked first, then the hold's, as every posting takes the wallet
first (migration 0025): two settlements of one hold serialize on them and the second
finds it settled, and a group commit's batch never deadlocks another. PostgreSQL runs
it all in one round trip (`credit_hold_settle`, migration 0012); SQLite as statements in
the session's `BEGIN IMMEDIATE` transaction, which already excludes every other writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.audit.service import Entry, user_target
from billing.core import correlation
from billing.credits import events, hold_repository, repository, single_statement, watch
from billing.credits.accounts import EXPIRY, SYSTEM_ACCOUNT_IDS, TransactionKind
from billing.credits.events import HOLD_EXPIRED_MESSAGE, HoldObject
from billing.credits.grants import allocate
from billing.credits.hold_repository import HoldView
from billing.credits.models import HOLD_ACTIVE, CreditHold
from billing.credits.transfers import POSTED_FACTS
from billing.db.engine import Database

SETTLE = "SELECT * FROM credit_hold_settle(" + ", ".join(f"${n}" for n in range(1, 15)) + ")"  # noqa: S608
# The worker's release of a hold past its expiry, and the message telling of it.
SETTLE_DUE = (
    f"WITH settled AS ({SETTLE}), message AS ({HOLD_EXPIRED_MESSAGE}) SELECT * FROM settled"  # noqa: S608
)
HELD, USAGE, EXPIRED = (SYSTEM_ACCOUNT_IDS[name] for name in ("held", "usage", "expired"))


@dataclass(frozen=True, slots=True)
class Settlement:
    """A request to settle one hold: capture `capture` credits (None: all) and return the
    rest, as `kind`, leaving the hold `status`. `due`: only once past its `expires_at`."""

    hold_id: int
    user_id: int
    kind: TransactionKind
    status: str
    actor: str
    capture: int | None = 0
    idempotency_key: str | None = None
    due: bool = False

    @property
    def fingerprint(self) -> str:
        """What must match for a replayed key to be the same settlement."""
        captured = "all" if self.capture is None else self.capture
        return f"{self.kind.name}:{self.user_id}:{self.hold_id}:{captured}"

    @property
    def expiry_key(self) -> str:
        """The key of the `expiry` of credits that go back to grants that expired."""
        return f"hold:{self.hold_id}:expiry"


@dataclass(frozen=True, slots=True)
class Settled:
    hold: HoldView
    transaction_id: int
    balance: int  # what the wallet can spend after the settlement
    replayed: bool = False


async def on_postgres(
    database: Database, settlement: Settlement, key: str, now: datetime
) -> Settled | None:
    """The settlement in one round trip; None if refused (see `credit_hold_settle`)."""
    statement = SETTLE_DUE if settlement.due else SETTLE
    row = await single_statement.fetch_committed(
        database, statement, arguments(settlement, key, now), settlement.user_id
    )
    return Settled(HoldView.of(row), row["transaction_id"], row["balance"]) if row else None


def arguments(settlement: Settlement, key: str, now: datetime) -> tuple[Any, ...]:
    """`SETTLE`'s arguments."""
    return (
        settlement.hold_id,
        settlement.user_id,
        settlement.capture,
        settlement.status,
        settlement.kind.name,
        now,
        key,
        settlement.fingerprint,
        settlement.actor,
        settlement.due,
        settlement.expiry_key,
        user_target(settlement.user_id),
        correlation.current(),
        correlation.caller(),
    )


async def stepwise(
    session: AsyncSession, settlement: Settlement, key: str, now: datetime
) -> Settled | None:
    """The settlement in the session's open transaction; None if refused: no such hold for
    the user, not active, not yet due, a capture above what it holds, or the key used."""
    hold = await hold_repository.locked_hold(session, settlement.user_id, settlement.hold_id)
    if hold is None or not _settleable(hold, settlement, now):
        return None
    if await repository.transaction_by_key(session, key) is not None:
        return None
    capture = hold.amount if settlement.capture is None else settlement.capture
    returned = await _returned(session, hold, capture, now)
    live = sum(amount for _, amount, dead in returned if not dead)
    lost = sum(amount for _, amount, dead in returned if dead)
    if returned:
        balance = await hold_repository.add_to_wallet(session, hold.account_id, live, now)
        await hold_repository.reopen_grants(
            session, [(grant, amount) for grant, amount, dead in returned if not dead], now
        )
    else:
        wallet = await repository.wallet(session, settlement.user_id)
        balance = (wallet.balance or 0) if wallet is not None else 0
    moved: list[tuple[int, int, int | None]] = [
        (HELD, -hold.amount, None),
        (USAGE, capture, None),
        (hold.account_id, hold.amount - capture, balance + lost),
    ]
    transaction_id = await _record(
        session,
        _transaction(settlement.kind.name, hold, capture or hold.amount, key, settlement, now),
        moved,
        [(grant, amount) for grant, amount, _ in returned],
        {"hold_id": hold.id, "captured": capture, "returned": hold.amount - capture},
    )
    if lost:
        await _expire_returned(session, settlement, hold, returned, lost, balance, now)
    settled = await hold_repository.mark_settled(
        session,
        hold,
        {
            "status": settlement.status,
            "captured": capture,
            "settlement_transaction_id": transaction_id,
            "settled_at": now,
        },
    )
    spendable = await repository.spendable_after(session, hold.account_id, balance, now)
    await watch.balance_moved(session, hold.account_id, spendable, now, debit=False)
    if settlement.due:
        told = HoldObject(
            id=hold.id, amount=hold.amount, expires_at=hold.expires_at, created_at=hold.created_at
        )
        events.hold_expired(session, told, hold.user_id, (transaction_id, spendable), now)
    return Settled(settled, transaction_id, spendable)


def _settleable(hold: CreditHold, settlement: Settlement, now: datetime) -> bool:
    return (
        hold.status == HOLD_ACTIVE
        and (settlement.capture is None or settlement.capture <= hold.amount)
        and settlement.due == (hold.expires_at <= now)
    )


async def _returned(
    session: AsyncSession, hold: CreditHold, capture: int, now: datetime
) -> list[tuple[int, int, bool]]:
    """(grant, credits it gets back, dead) once `capture` is taken in capture order."""
    if capture == hold.amount:
        return []
    held = await hold_repository.grants_held(session, hold.hold_transaction_id, now)
    captured = dict(allocate([(grant, took) for grant, took, _ in held], capture))
    back = [(grant, took - captured.get(grant, 0), dead) for grant, took, dead in held]
    return [(grant, amount, dead) for grant, amount, dead in back if amount > 0]


async def _expire_returned(
    session: AsyncSession,
    settlement: Settlement,
    hold: CreditHold,
    returned: list[tuple[int, int, bool]],
    lost: int,
    balance: int,
    now: datetime,
) -> None:
    """Expire at once what went back to grants that can no longer take it."""
    values = _transaction(EXPIRY.name, hold, lost, settlement.expiry_key, settlement, now)
    await _record(
        session,
        values
        | {
            "fingerprint": f"{EXPIRY.name}:{hold.user_id}:{settlement.expiry_key}",
            "description": None,
            "metadata_": None,
        },
        [(hold.account_id, -lost, balance), (EXPIRED, lost, None)],
        [(grant, -amount) for grant, amount, dead in returned if dead],
        {"hold_id": hold.id},
    )


def _transaction(
    kind: str, hold: CreditHold, amount: int, key: str, settlement: Settlement, now: datetime
) -> dict[str, Any]:
    return {
        "kind": kind,
        "user_id": hold.user_id,
        "amount": amount,
        "idempotency_key": key,
        "fingerprint": settlement.fingerprint,
        "actor": settlement.actor,
        "reference": None,
        "description": hold.description,
        "metadata_": hold.metadata_,
        "expires_at": None,
        "created_at": now,
    }


async def _record(
    session: AsyncSession,
    values: dict[str, Any],
    moved: list[tuple[int, int, int | None]],
    grants: list[tuple[int, int]],
    details: dict[str, Any],
) -> int:
    """A transaction, its entries (account, amount, balance after; none of 0 credits), its
    grant entries and its audit entry, as `credit_hold_settle` writes them."""
    transaction_id = await repository.insert_transaction(session, values)
    entries: list[dict[str, Any]] = [
        {
            "transaction_id": transaction_id,
            "account_id": account,
            "amount": amount,
            "balance_after": after,
        }
        for account, amount, after in moved
        if amount
    ]
    await repository.insert_entries(session, entries)
    if grants:
        await repository.insert_grant_entries(session, transaction_id, grants)
    wallet_after = next((after for _, _, after in moved if after is not None), None)
    facts: dict[str, int | None] = dict(
        zip(POSTED_FACTS, (transaction_id, wallet_after), strict=True)
    )
    entry = Entry(
        actor=values["actor"],
        action=f"credit.{values['kind']}",
        target=user_target(values["user_id"]),
        user_id=values["user_id"],
        details={"amount": values["amount"], "reference": None, **facts, **details},
    )
    await audit.record_entry(session, entry)
    return transaction_id
