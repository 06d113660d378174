"""Metered usage in batches: each event a spend of its own, answered event by event.

A platform backend reports up to `MAX_USAGE_EVENTS` debits at once. Each is atomic on its
own and keyed like a spend (`api:<caller>:<key>`), so an event retried through either
route posts once. The batch is committed together (`service.post_batch`): one statement
and one commit on PostgreSQL. One event's trouble (malformed, short of credits, its key used for
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
from billing.credits.service import Refusal
from billing.credits.transfers import Posted, Transfer
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


def _answer(event: UsageEvent, outcome: Posted | Refusal) -> UsageResult:
    answer = {"idempotency_key": event.idempotency_key, "user_id": event.user_id}
    if isinstance(outcome, InsufficientCredits):
        balance = outcome.extra.get("balance")
        return UsageResult(
            **answer,
            status="insufficient_credits",
            balance=balance if isinstance(balance, int) else None,
            detail=outcome.detail,
        )
    if isinstance(outcome, IdempotencyConflict):
        return UsageResult(**answer, status="conflict", detail=outcome.detail)
    return UsageResult(
        **answer,
        status="replayed" if outcome.replayed else "posted",
        transaction_id=outcome.transaction_id,
        balance=outcome.balance,
    )


def _debit(caller: str, event: UsageEvent) -> Transfer:
    return Transfer(
        kind=SPEND,
        user_id=event.user_id,
        amount=event.amount,
        actor=caller,
        idempotency_key=ledger_key(caller, event.idempotency_key),
        description=event.description,
        metadata=event.metadata,
    )


async def post_usage(database: Database, caller: str, events: list[object]) -> list[UsageResult]:
    """Each event's outcome, in order."""
    results: list[UsageResult | None] = []
    valid: list[tuple[int, UsageEvent]] = []
    for raw in events:
        try:
            valid.append((len(results), UsageEvent.model_validate(raw)))
            results.append(None)
        except ValidationError as error:
            results.append(_invalid(raw, error))
    for segment in _segments(valid):
        outcomes = await service.post_batch(database, [_debit(caller, e) for _, e in segment])
        for (index, event), outcome in zip(segment, outcomes, strict=True):
            results[index] = _answer(event, outcome)
    return [result for result in results if result is not None]


Numbered = list[tuple[int, UsageEvent]]


def _segments(valid: Numbered) -> list[Numbered]:
    """Runs of events with no key repeated, in order. A run is posted together, wallets
    in user order; a repeated key starts the next run, so it is answered after the event
    it repeats, whatever that one's outcome, as if the events were posted one by one."""
    segments: list[Numbered] = []
    seen: set[str] = set()
    for index, event in valid:
        if not segments or event.idempotency_key in seen:
            segments.append([])
            seen = set()
        segments[-1].append((index, event))
        seen.add(event.idempotency_key)
    return segments
