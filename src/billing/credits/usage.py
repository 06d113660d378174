"""Metered usage in batches: each event a spend of its own, answered event by event.

A platform backend reports up to `MAX_USAGE_EVENTS` debits at once. Each is atomic on its
own and keyed like a spend (`api:<caller>:<key>`), so an event retried through either
route posts once. One event's trouble (malformed, short of credits, its key used for
another debit) is that event's answer; the batch goes on. Only a fault of the service
itself (the database gone) fails the whole request, and a retry of it replays what was
posted.
"""

from __future__ import annotations

from pydantic import ValidationError

from billing.core.errors import IdempotencyConflict, InsufficientCredits
from billing.credits import service
from billing.credits.accounts import SPEND
from billing.credits.schemas import UsageEvent, UsageResult
from billing.credits.transfers import Transfer
from billing.db.engine import Database


def ledger_key(caller: str, key: str) -> str:
    """The ledger key of a caller's spend or usage event: one namespace for both."""
    return f"api:{caller}:{key}"


def _invalid(raw: object, error: ValidationError) -> UsageResult:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "event"
    known = raw if isinstance(raw, dict) else {}
    key, user = known.get("idempotency_key"), known.get("user_id")
    return UsageResult(
        idempotency_key=key if isinstance(key, str) else None,
        user_id=user if type(user) is int else None,
        status="invalid",
        detail=f"{where}: {first['msg']}",
    )


async def _post_one(database: Database, caller: str, event: UsageEvent) -> UsageResult:
    answer = {"idempotency_key": event.idempotency_key, "user_id": event.user_id}
    transfer = Transfer(
        kind=SPEND,
        user_id=event.user_id,
        amount=event.amount,
        actor=caller,
        idempotency_key=ledger_key(caller, event.idempotency_key),
        description=event.description,
        metadata=event.metadata,
    )
    try:
        posted = await service.post(database, transfer)
    except InsufficientCredits as short:
        balance = short.extra.get("balance")
        return UsageResult(
            **answer,
            status="insufficient_credits",
            balance=balance if isinstance(balance, int) else None,
            detail=short.detail,
        )
    except IdempotencyConflict as refused:
        return UsageResult(**answer, status="conflict", detail=refused.detail)
    return UsageResult(
        **answer,
        status="replayed" if posted.replayed else "posted",
        transaction_id=posted.transaction_id,
        balance=posted.balance,
    )


async def post_usage(database: Database, caller: str, events: list[object]) -> list[UsageResult]:
    """Each event's outcome, in order."""
    results = []
    for raw in events:
        try:
            event = UsageEvent.model_validate(raw)
        except ValidationError as error:
            results.append(_invalid(raw, error))
            continue
        results.append(await _post_one(database, caller, event))
    return results
