"""What the ledger tells the platform (docs/webhooks.md), written by the posting itself:
in the same transaction on SQLite (`granted`), in the same statement on PostgreSQL
(`GRANTED_MESSAGE`), so the message commits with the credits or not at all."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from billing.credits.transfers import Transfer
from billing.db import outbox

GRANTED = "credits.granted"


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
    fields = data.model_dump(mode="json", exclude={"user_id"})
    outbox.write(session, GRANTED, fields, transfer.user_id, now)


def _rfc3339(value: str) -> str:
    return f"""to_char({value} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


# A CTE of the credit statement (`single_statement.CREDIT`): its parameters ($1 user,
# $2 amount, $3 now, $8 reference, $11 expires_at, $21 source, $22 priority) and its
# `txn`, `wallet` and `opened` rows; `balance` is what the statement answers.
GRANTED_MESSAGE = f"""
INSERT INTO webhook_messages (message_id, type, user_id, body, created_at)
SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), '{GRANTED}', $1,
       jsonb_build_object(
           'type', '{GRANTED}',
           'timestamp', {_rfc3339("$3::timestamptz")},
           'data', jsonb_build_object(
               'user_id', $1::bigint,
               'grant', jsonb_build_object(
                   'id', opened.id, 'source', $21::varchar, 'amount', $2::bigint,
                   'priority', $22::smallint, 'expires_at', {_rfc3339("$11::timestamptz")},
                   'reference', $8::varchar),
               'transaction_id', txn.id,
               'balance', wallet.balance - credit_lapsed(wallet.id, $3)))::text,
       $3
FROM txn, wallet, opened
"""  # noqa: S608 (constants only)
