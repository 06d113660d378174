"""`Idempotency-Key` for every mutating route.

The first request with a key claims it (a row `in_progress`, committed at
once), runs, and stores its status and body for 24 hours. A repeat with the
same method, path and body gets the stored response verbatim with
`Idempotent-Replayed: true`; a repeat with anything else is 409
`idempotency_conflict`; a repeat while the first still runs is 409
`idempotency_in_progress`. Keys are scoped by principal. Server errors (5xx)
and requests refused before they started (401, 403, 422) are not stored: the
key is released so the client can retry.

A request that dies between claim and completion leaves its key in progress;
after `STALE_CLAIM` another request may take the claim over. A request whose
database failed as it claimed or settled its key settles it in the background
as soon as the database answers, so a retry need not wait that long. Handlers with
database effects also carry the key into those effects (the credit ledger's
own unique key), so a re-run after a takeover never applies twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import structlog
from fastapi.routing import APIRoute
from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.requests import Request
from starlette.responses import Response

from billing.auth import authenticate
from billing.db import Base, BigIntId, Database, UTCDateTime, get_database, upsert, utcnow
from billing.errors import (
    IdempotencyConflict,
    IdempotencyInProgress,
    ValidationProblem,
    problem_response,
    to_problem,
)

HEADER = "idempotency-key"
BODY_FIELD = "idempotency_key"
REPLAY_HEADER = "Idempotent-Replayed"
KEY_TTL = timedelta(hours=24)
STALE_CLAIM = timedelta(seconds=60)
MAX_KEY_LENGTH = 255
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Refused before the operation started (not allowed, invalid): like Stripe, not stored,
# so the client can fix the request and retry with the same key.
NOT_STARTED = frozenset({401, 403, 422})
SETTLE_RETRY_SECONDS = 0.5
# Claims being settled in the background after a database failure (a reference each, so
# that no task is collected mid-way).
_SETTLING: set[asyncio.Task[None]] = set()
logger = structlog.get_logger(__name__)

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_type: Mapped[str | None] = mapped_column(String(100))
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes
    media_type: str | None

    def replay(self) -> Response:
        return Response(
            self.body, self.status, media_type=self.media_type, headers={REPLAY_HEADER: "true"}
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """A key held by one request: its record and when it was taken (the owner's token)."""

    id: int
    at: datetime


class IdempotencyStore:
    """Claims, completes and releases keys, each in its own short transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def claim(self, scope: str, key: str, fingerprint: str) -> Claim | StoredResponse:
        """The claim to complete later, or the stored response to replay."""
        for _ in range(2):  # a second pass only after deleting an expired record
            async with self.database.sessions() as session:
                outcome = await self._claim_once(session, scope, key, fingerprint)
            if outcome is not None:
                return outcome
        raise IdempotencyInProgress()

    async def _claim_once(
        self, session: AsyncSession, scope: str, key: str, fingerprint: str
    ) -> Claim | StoredResponse | None:
        """One transaction; None if it found only an expired record (now deleted). A claim
        whose commit failed may still have been committed: it is released once the
        database answers again, so that it cannot hold the key for STALE_CLAIM."""
        outcome: Claim | StoredResponse | None = None
        try:
            async with session.begin():
                outcome = await self._take(session, scope, key, fingerprint)
        except Exception:
            if isinstance(outcome, Claim):
                self.settle_later(outcome, None)
            raise
        return outcome

    async def _take(
        self, session: AsyncSession, scope: str, key: str, fingerprint: str
    ) -> Claim | StoredResponse | None:
        now = utcnow()
        inserted = await session.scalar(
            upsert(self.database.dialect, IdempotencyRecord)
            .values(
                scope=scope,
                key=key,
                fingerprint=fingerprint,
                status="in_progress",
                locked_at=now,
                created_at=now,
                expires_at=now + KEY_TTL,
            )
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(IdempotencyRecord.id)
        )
        if inserted is not None:
            return Claim(int(inserted), now)
        record = await session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        )
        if record is None or record.expires_at <= now:
            await session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.scope == scope,
                    IdempotencyRecord.key == key,
                    IdempotencyRecord.expires_at <= now,
                )
            )
            return None
        return await self._existing(session, record, fingerprint, now)

    async def _existing(
        self, session: AsyncSession, record: IdempotencyRecord, fingerprint: str, now: datetime
    ) -> Claim | StoredResponse:
        if record.fingerprint != fingerprint:
            raise IdempotencyConflict(
                "This Idempotency-Key was used with a different method, path or body."
            )
        if record.status == "completed" and record.response_status is not None:
            return StoredResponse(
                record.response_status, record.response_body or b"", record.response_type
            )
        if record.locked_at > now - STALE_CLAIM:
            raise IdempotencyInProgress("A request with this Idempotency-Key is still running.")
        taken = await session.scalar(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.id == record.id, IdempotencyRecord.locked_at == record.locked_at
            )
            .values(locked_at=now)
            .returning(IdempotencyRecord.id)
        )
        if taken is None:
            raise IdempotencyInProgress("A request with this Idempotency-Key is still running.")
        return Claim(record.id, now)

    async def complete(self, claim: Claim, response: Response) -> None:
        """Store the response, unless another request has since taken the claim over."""
        async with self.database.sessions() as session, session.begin():
            await session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.id == claim.id, IdempotencyRecord.locked_at == claim.at)
                .values(
                    status="completed",
                    response_status=response.status_code,
                    response_body=bytes(response.body),
                    response_type=response.media_type,
                )
            )

    async def release(self, claim: Claim) -> None:
        async with self.database.sessions() as session, session.begin():
            await session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.id == claim.id,
                    IdempotencyRecord.locked_at == claim.at,
                    IdempotencyRecord.status == "in_progress",
                )
            )

    async def settle(self, claim: Claim, response: Response | None) -> None:
        """Store the response, or release the key when there is none worth keeping."""
        if response is None or response.status_code >= 500 or response.status_code in NOT_STARTED:
            await self.release(claim)
        else:
            await self.complete(claim, response)

    def settle_later(self, claim: Claim, response: Response | None) -> None:
        """The database failed while the claim was being settled: keep trying in the
        background, so that a retry gets its answer (or runs) as soon as the database is
        back, not 409 `idempotency_in_progress` until STALE_CLAIM, when a retry may take
        the claim over anyway. Both writes check the claim's owner, so a late one is safe."""
        task = asyncio.create_task(self._keep_settling(claim, response))
        _SETTLING.add(task)
        task.add_done_callback(_SETTLING.discard)

    async def _keep_settling(self, claim: Claim, response: Response | None) -> None:
        while utcnow() < claim.at + STALE_CLAIM:
            await asyncio.sleep(SETTLE_RETRY_SECONDS)
            with contextlib.suppress(Exception):
                await self.settle(claim, response)
                return
        logger.warning("idempotency_claim_left_to_expire", seconds=STALE_CLAIM.total_seconds())


def _parse_json_object(body: bytes) -> dict[str, Any] | None:
    if not body.lstrip().startswith(b"{"):
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def request_key(request: Request, payload: dict[str, Any] | None) -> str | None:
    """The request's key: the header, or a credit route's body field; both must agree."""
    header = request.headers.get(HEADER)
    body_value = payload.get(BODY_FIELD) if payload else None
    body_key = body_value if isinstance(body_value, str) else None
    if header is not None and body_key is not None and header != body_key:
        raise ValidationProblem("The Idempotency-Key header and idempotency_key differ.")
    key = header if header is not None else body_key
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()):
        raise ValidationProblem(
            f"An idempotency key has 1 to {MAX_KEY_LENGTH} printable characters."
        )
    return key


def fingerprint(request: Request, body: bytes, payload: dict[str, Any] | None) -> str:
    canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS) if payload else body
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), request.url.query.encode()):
        digest.update(part + b"\0")
    digest.update(canonical)
    return digest.hexdigest()


async def run_idempotently(request: Request, handler: Handler) -> Response:
    if request.method not in MUTATING_METHODS:
        return await handler(request)
    principal = await authenticate(request)
    body = await request.body()
    payload = _parse_json_object(body)
    if body.strip() and payload is None:
        # Fail closed: a body this layer cannot read might hide an idempotency_key.
        raise ValidationProblem("The body must be a JSON object, encoded as UTF-8.")
    key = request_key(request, payload)
    if key is None:
        return await handler(request)
    store = IdempotencyStore(get_database(request))
    claim = await store.claim(principal.scope, key, fingerprint(request, body, payload))
    if isinstance(claim, StoredResponse):
        return claim.replay()
    request.state.idempotency_key = key
    try:
        response = await handler(request)
    except Exception as exc:  # stored like any response the route gives
        response = problem_response(to_problem(exc), instance=request.url.path)
    try:
        await store.settle(claim, response)
    except Exception:
        store.settle_later(claim, response)
        raise
    return response


class IdempotentRoute(APIRoute):
    """An APIRoute whose mutating requests go through `run_idempotently`.

    Its mutating routes need credentials (keys are scoped by caller), so routes that
    authenticate otherwise, like Stripe's signed webhook, use a plain APIRoute.
    """

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def idempotent_handler(request: Request) -> Response:
            return await run_idempotently(request, handler)

        return idempotent_handler


def idempotency_key(request: Request) -> str | None:
    """The key the current request runs under, for handlers that carry it into their effects."""
    key: str | None = getattr(request.state, "idempotency_key", None)
    return key
