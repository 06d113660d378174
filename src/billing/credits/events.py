"""What the ledger tells the platform (docs/webhooks.md), written by the posting itself:
in the same transaction on SQLite (`granted`, `expired`, `hold_expired`), in the same
statement on PostgreSQL (the `*_MESSAGE` statements), so a message commits with the
credits it tells of or not at all, and a replayed posting tells nothing twice."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.transfers import Transfer
from billing.db import outbox

GRANTED, EXPIRED, HOLD_EXPIRED = "credits.granted", "credits.expired", "hold.expired"
# Told by the wallet's watch (`credits.watch`, migration 0018's trigger on PostgreSQL).
LOW, DEPLETED = "credits.low", "credits.depleted"


class GrantObject(BaseModel):
    id: int
    source: str  # purchase | subscription | topup | auto_topup | admin | promotion
    amount: int
    priority: int
    expires_at: datetime | None
    reference: str | None  # what it came from: a payment's Stripe id, say


class GrantedData(BaseModel):
    user_id: int
    grant: GrantObject
    transaction_id: int
    balance: int  # what can be spent right after


class ExpiredData(BaseModel):
    user_id: int
    grant_id: int
    credits: int  # what the grant still held, gone now
    transaction_id: int
    balance: int


class HoldObject(BaseModel):
    id: int
    amount: int  # what it held, all back in the wallet now
    expires_at: datetime
    created_at: datetime


class HoldExpiredData(BaseModel):
    user_id: int
    hold: HoldObject
    transaction_id: int
    balance: int


class LowData(BaseModel):
    user_id: int
    balance: int  # what can be spent now, below the threshold
    threshold: int  # the user's own, else BILLING_LOW_BALANCE_THRESHOLD


class DepletedData(BaseModel):
    user_id: int
    balance: int  # 0: nothing left to spend


def _write(
    session: AsyncSession,
    type_: str,
    data: GrantedData | ExpiredData | HoldExpiredData | LowData | DepletedData,
    now: datetime,
) -> None:
    fields = data.model_dump(mode="json", exclude={"user_id"})
    outbox.write(session, type_, fields, data.user_id, now)


def granted(
    session: AsyncSession,
    transfer: Transfer,
    grant_id: int,
    transaction_id: int,
    balance: int,
    now: datetime,
) -> None:
    terms = transfer.terms
    grant = GrantObject(
        id=grant_id,
        source=terms.source,
        amount=transfer.amount,
        priority=terms.effective_priority,
        expires_at=terms.expires_at,
        reference=transfer.reference,
    )
    data = GrantedData(
        user_id=transfer.user_id, grant=grant, transaction_id=transaction_id, balance=balance
    )
    _write(session, GRANTED, data, now)


def expired(
    session: AsyncSession, transfer: Transfer, posted: tuple[int, int, int], now: datetime
) -> None:
    """`posted`: the expiry's transaction, the balance after and what it took."""
    assert transfer.grant_id is not None, "an expiry empties one grant"
    transaction_id, balance, amount = posted
    data = ExpiredData(
        user_id=transfer.user_id,
        grant_id=transfer.grant_id,
        credits=amount,
        transaction_id=transaction_id,
        balance=balance,
    )
    _write(session, EXPIRED, data, now)


def hold_expired(
    session: AsyncSession,
    hold: HoldObject,
    user_id: int,
    settled: tuple[int, int],
    now: datetime,
) -> None:
    """`settled`: the release's transaction and the balance after."""
    transaction_id, balance = settled
    data = HoldExpiredData(
        user_id=user_id, hold=hold, transaction_id=transaction_id, balance=balance
    )
    _write(session, HOLD_EXPIRED, data, now)


def ran_low(
    session: AsyncSession, user_id: int, balance: int, threshold: int, now: datetime
) -> None:
    _write(session, LOW, LowData(user_id=user_id, balance=balance, threshold=threshold), now)


def depleted(session: AsyncSession, user_id: int, balance: int, now: datetime) -> None:
    _write(session, DEPLETED, DepletedData(user_id=user_id, balance=balance), now)


def _rfc3339(value: str) -> str:
    return f"""to_char({value} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def _insert_message(type_: str, data: str, rows: str, user: str, at: str) -> str:
    """The INSERT of one message per row of `rows`, its `data` holding `user_id` and the
    pairs `data` lists, as the Python writer above shapes them."""
    return f"""
INSERT INTO webhook_messages (message_id, type, user_id, body, created_at)
SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), '{type_}', {user},
       jsonb_build_object(
           'type', '{type_}', 'timestamp', {_rfc3339(at)},
           'data', jsonb_build_object('user_id', {user}, {data}))::text,
       {at}
FROM {rows}
"""  # noqa: S608 (constants only)


# A CTE of the credit statement (`single_statement.CREDIT`): its parameters ($1 user,
# $2 amount, $3 now, $8 reference, $11 expires_at, $21 source, $22 priority) and its
# `answer` row (transaction, balance, amount, grant): what the statement answers.
GRANTED_MESSAGE = _insert_message(
    GRANTED,
    f"""'grant', jsonb_build_object(
            'id', answer.grant_id, 'source', $21::varchar, 'amount', $2::bigint,
            'priority', $22::smallint, 'expires_at', {_rfc3339("$11::timestamptz")},
            'reference', $8::varchar),
        'transaction_id', answer.id,
        'balance', answer.balance""",
    "answer",
    "$1::bigint",
    "$3::timestamptz",
)
# Of the debit statement's `posted` row (`single_statement.DEBIT`: $22 the grant emptied).
EXPIRED_MESSAGE = _insert_message(
    EXPIRED,
    """'grant_id', $22::bigint, 'credits', posted.amount, 'transaction_id', posted.id,
        'balance', posted.balance""",
    "posted",
    "$1::bigint",
    "$3::timestamptz",
)
# Of the settlement's `settled` row (`hold_settlement.SETTLE`: $2 user, $6 now).
HOLD_EXPIRED_MESSAGE = _insert_message(
    HOLD_EXPIRED,
    f"""'hold', jsonb_build_object(
            'id', settled.id, 'amount', settled.amount,
            'expires_at', {_rfc3339("settled.expires_at")},
            'created_at', {_rfc3339("settled.created_at")}),
        'transaction_id', settled.transaction_id, 'balance', settled.balance""",
    "settled",
    "$2::bigint",
    "$6::timestamptz",
)
