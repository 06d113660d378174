"""Claiming, settling and releasing keys, each in its own short transaction."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from billing.core.errors import IdempotencyConflict, IdempotencyInProgress
from billing.core.times import utcnow
from billing.db.engine import Database
from billing.db.statements import upsert
from billing.idempotency.models import IdempotencyRecord

REPLAY_HEADER = "Idempotent-Replayed"
KEY_TTL = timedelta(hours=24)

STALE_CLAIM = timedelta(seconds=60)

# Refused before the operation started (not allowed, invalid): like Stripe, not stored,
# so the client can fix the request and retry with the same key.
NOT_STARTED = frozenset({401, 403, 422})

SETTLE_RETRY_SECONDS = 0.5

# Claims being settled in the background after a database failure (a reference each, so
# that no task is collected mid-way).
_SETTLING: set[asyncio.Task[None]] = set()


logger = structlog.get_logger(__name__)


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
