"""What a wallet watches for as its balance moves: falling below its low-balance threshold
(`credits.low`), reaching 0 (`credits.depleted`), and falling below its armed auto top-up
threshold (a request that `payments.auto_topup` takes).

Each is decided with the wallet's row locked, in the transaction of the posting that moved
it, so of many concurrent debits exactly one crosses a line. The row remembers where the
balance stood (`alert_level`), so a crossing is told once until a credit lifts the balance
back over the line. On PostgreSQL a trigger on the row decides (migration 0018), whatever
statement moved it; the SQLite postings call `balance_moved`, which keeps the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits import events, repository
from billing.db.server_settings import LOW_BALANCE_THRESHOLD

ABOVE, LOW, EMPTY = 0, 1, 2  # alert levels: above the threshold, below it, nothing left


def alert_level(spendable: int, threshold: int | None) -> int:
    if spendable <= 0:
        return EMPTY
    if threshold is not None and spendable < threshold:
        return LOW
    return ABOVE


def threshold_for(session: AsyncSession, own: int | None) -> int | None:
    """The user's own threshold, else the service's default (BILLING_LOW_BALANCE_THRESHOLD)."""
    return own if own is not None else session.info.get(LOW_BALANCE_THRESHOLD)


async def own_low_balance_threshold(session: AsyncSession, user_id: int) -> int | None:
    wallet = await repository.wallet(session, user_id)
    return wallet.low_balance_threshold if wallet is not None else None


@dataclass(frozen=True, slots=True)
class Watched:
    """What a wallet watches for, as its row holds it."""

    user_id: int
    low_balance_threshold: int | None
    alert_level: int
    topup_threshold: int | None
    topup_pending: bool
    topup_resumes_at: datetime | None


@dataclass(frozen=True, slots=True)
class Moved:
    """What a balance's move decided: the wallet row's changes, and what to tell."""

    changes: dict[str, Any]
    spendable: int
    low_threshold: int | None = None  # set: tell `credits.low` (the line crossed)
    depleted: bool = False  # tell `credits.depleted`


def decide(
    wallet: Watched, threshold: int | None, spendable: int, now: datetime, *, debit: bool
) -> Moved:
    """The wallet (its row locked) moved to `spendable`, `threshold` its low-balance line:
    a downward crossing is told, an auto top-up requested, the level remembered."""
    level = alert_level(spendable, threshold)
    changes: dict[str, Any] = {"alert_level": level} if level != wallet.alert_level else {}
    if not debit:
        return Moved(changes, spendable)
    if _topup_due(wallet, spendable, now):
        changes |= {"topup_pending": True, "topup_requested_at": now}
    if level <= wallet.alert_level:
        return Moved(changes, spendable)
    low = threshold if wallet.alert_level == ABOVE and threshold else None
    return Moved(changes, spendable, low, level == EMPTY)


def tell(session: AsyncSession, user_id: int, moved: Moved, now: datetime) -> None:
    """The messages of what `decide` found, in the posting's transaction."""
    if moved.low_threshold is not None:
        events.ran_low(session, user_id, moved.spendable, moved.low_threshold, now)
    if moved.depleted:
        events.depleted(session, user_id, moved.spendable, now)


async def balance_moved(
    session: AsyncSession, account_id: int, spendable: int, now: datetime, *, debit: bool
) -> None:
    """A SQLite posting moved the wallet (its row locked: SQLite has one writer) to
    `spendable`: `decide`, then write and tell what it decided."""
    row = await repository.watched_wallet(session, account_id)
    wallet = Watched(**row._mapping)
    threshold = threshold_for(session, wallet.low_balance_threshold)
    moved = decide(wallet, threshold, spendable, now, debit=debit)
    tell(session, wallet.user_id, moved, now)
    if moved.changes:
        await repository.update_wallet(session, account_id, moved.changes)


def _topup_due(wallet: Watched, spendable: int, now: datetime) -> bool:
    return (
        wallet.topup_threshold is not None
        and not wallet.topup_pending
        and spendable < wallet.topup_threshold
        and (wallet.topup_resumes_at is None or now >= wallet.topup_resumes_at)
    )


async def watch_for(
    session: AsyncSession,
    user_id: int,
    low_balance_threshold: int | None,
    topup_threshold: int | None,
    now: datetime,
) -> None:
    """Set what the user's wallet watches for (opening an empty wallet if it has none),
    in the caller's transaction. The balance where it stands now is no crossing: only a
    debit after this can be one. A paused or month-capped top-up is armed again."""
    state = await repository.credit_wallet(session, user_id, 0, now)
    assert state is not None, "adding nothing cannot overflow"
    await repository.update_wallet(
        session,
        state.account_id,
        {
            "low_balance_threshold": low_balance_threshold,
            "topup_threshold": topup_threshold,
            "topup_resumes_at": None,
        },
    )
    if session.get_bind().dialect.name != "postgresql":  # there the trigger did it
        spendable = await repository.spendable_after(session, state.account_id, state.balance, now)
        await balance_moved(session, state.account_id, spendable, now, debit=False)


async def take_topup_requests(session: AsyncSession, limit: int) -> list[int]:
    """The users whose wallets asked for an auto top-up, at most `limit`, taken in the
    caller's transaction: no other worker gets them once it commits."""
    return await repository.take_topup_requests(session, limit)


async def topup_ended(
    session: AsyncSession, user_id: int, *, disarm: bool = False, resumes_at: datetime | None = None
) -> None:
    """The user's top-up is over: the next debit below the threshold may ask again, from
    `resumes_at` on (the monthly limit), or never until the settings are saved (`disarm`:
    a decline pauses auto top-up)."""
    values: dict[str, Any] = {"topup_pending": False, "topup_resumes_at": resumes_at}
    if disarm:
        values["topup_threshold"] = None
    await repository.update_wallet_of(session, user_id, values)
