"""`billing rotate-keys`: re-encrypt every personal data value under the newest key.

Three kinds of rows hold it: the customer mirror's encrypted columns, the personal
fields of stored webhook payloads (`webhooks.personal_fields`; a payload stored in clear
by a version that did not encrypt them has them encrypted now), and the signing secrets
of the platform's webhook endpoints. Rows are read a batch at
a time in id order, and each batch is written in its own short transaction, so the job
can stop anywhere and simply be run again: a value the newest key already reads is left
as it is. A customer write is conditional on the token read, and a batch of payloads is
locked while it is rewritten, so a value changed meanwhile (stored anew, or erased) is
never clobbered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Row, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.audit import service as audit
from billing.compliance.webhook_payloads import Payload, rewrite_payloads
from billing.core.config import Settings
from billing.core.encryption import cipher, email_lookup, primary, rotated
from billing.db.engine import Database
from billing.db.statements import read_without_transaction
from billing.outbound.models import WebhookEndpoint
from billing.payments.models import StripeCustomer
from billing.webhooks.models import WebhookEvent
from billing.webhooks.personal_fields import reencrypted

BATCH_SIZE = 500
ROTATED = "encryption_keys.rotated"
COLUMNS = (StripeCustomer.email_encrypted, StripeCustomer.name_encrypted)
HAS_DATA = or_(*(column.is_not(None) for column in COLUMNS))
SECRETS = (WebhookEndpoint.secret_encrypted, WebhookEndpoint.previous_secret_encrypted)


@dataclass
class RotationCounts:
    rotated: int = 0  # values re-encrypted under the newest key
    current: int = 0  # values the newest key already read
    unreadable: list[int] = field(default_factory=list)  # customer row ids no key reads
    unreadable_events: list[str] = field(default_factory=list)  # webhook events, likewise
    unreadable_endpoints: list[int] = field(default_factory=list)  # webhook endpoints, too

    @property
    def ok(self) -> bool:
        return not (self.unreadable or self.unreadable_events or self.unreadable_endpoints)

    def rotate_payload(
        self, event_id: str, payload: Payload, newest: Fernet, every_key: MultiFernet
    ) -> Payload | None:
        """`payload` re-encrypted (None: unchanged), counted."""
        try:
            rotated, done = reencrypted(payload, newest, every_key)
        except InvalidToken:
            self.unreadable_events.append(event_id)
            return None
        self.rotated, self.current = self.rotated + done.rotated, self.current + done.current
        return rotated


async def count_rows(database: Database) -> int:
    """Customer rows holding personal data and stored webhook payloads: the length of the
    progress bar."""
    async with database.sessions() as session:
        await read_without_transaction(session)
        customers = await session.scalar(select(func.count()).where(HAS_DATA))
        payloads = await session.scalar(
            select(func.count()).where(WebhookEvent.payload.is_not(None))
        )
        return int(customers or 0) + int(payloads or 0)


async def rotate_keys(
    database: Database,
    settings: Settings,
    actor: str,
    on_batch: Callable[[int], None] = lambda rows: None,
    batch_size: int = BATCH_SIZE,
) -> RotationCounts:
    """Re-encrypt every value under the first configured key; `on_batch(rows)` after
    each batch is written. A finished run leaves an audit entry with its counts."""
    newest, every_key = primary(settings), cipher(settings)
    counts = RotationCounts()
    lookup = partial(email_lookup, settings)
    await _rotate_customers(database, newest, every_key, lookup, counts, on_batch, batch_size)
    payloads = partial(counts.rotate_payload, newest=newest, every_key=every_key)
    await rewrite_payloads(database, true(), payloads, batch_size, on_batch)
    await _rotate_endpoint_secrets(database, newest, every_key, counts)
    await _audit(database, actor, counts)
    return counts


async def _rotate_customers(
    database: Database,
    newest: Fernet,
    every_key: MultiFernet,
    lookup: Callable[[str], str],
    counts: RotationCounts,
    on_batch: Callable[[int], None],
    batch_size: int,
) -> None:
    after = 0
    while True:
        async with database.sessions() as session:
            await read_without_transaction(session)
            rows = (
                await session.execute(
                    select(StripeCustomer.id, *COLUMNS, StripeCustomer.email_lookup)
                    .where(StripeCustomer.id > after, HAS_DATA)
                    .order_by(StripeCustomer.id)
                    .limit(batch_size)
                )
            ).all()
        if not rows:
            return
        async with database.sessions() as session, session.begin():
            for row in rows:
                await _rotate_row(session, newest, every_key, lookup, row, counts)
        on_batch(len(rows))
        after = rows[-1].id


async def _rotate_endpoint_secrets(
    database: Database, newest: Fernet, every_key: MultiFernet, counts: RotationCounts
) -> None:
    """Endpoints are few: all of them in one transaction, locked while rewritten."""
    async with database.sessions() as session, session.begin():
        for endpoint in await session.scalars(select(WebhookEndpoint).with_for_update()):
            try:
                tokens = [rotated(newest, every_key, t) if t else None for t in _secrets(endpoint)]
            except InvalidToken:
                counts.unreadable_endpoints.append(endpoint.id)
                continue
            for column, token, new in zip(SECRETS, _secrets(endpoint), tokens, strict=True):
                if new is not None:
                    setattr(endpoint, column.key, new)
                    counts.rotated += 1
                elif token is not None:
                    counts.current += 1


def _secrets(endpoint: WebhookEndpoint) -> list[str | None]:
    return [getattr(endpoint, column.key) for column in SECRETS]


async def _audit(database: Database, actor: str, counts: RotationCounts) -> None:
    async with database.sessions() as session, session.begin():
        await audit.record(
            session,
            actor=actor,
            action=ROTATED,
            target="encryption_keys",
            details={
                "rotated": counts.rotated,
                "current": counts.current,
                "unreadable": len(counts.unreadable)
                + len(counts.unreadable_events)
                + len(counts.unreadable_endpoints),
            },
        )


async def _rotate_row(
    session: AsyncSession,
    newest: Fernet,
    every_key: MultiFernet,
    lookup: Callable[[str], str],
    row: Row[int, str | None, str | None, str | None],
    counts: RotationCounts,
) -> None:
    changes: dict[str, str] = {}
    for column, token in zip(COLUMNS, row[1:3], strict=True):
        if token is None:
            continue
        try:
            new = rotated(newest, every_key, token)
        except InvalidToken:
            counts.unreadable.append(row.id)
            return
        if new is None:
            counts.current += 1
        else:
            changes[column.key] = new
    rotating = len(changes)
    if row.email_encrypted is not None:  # its lookup hash, under the newest key
        wanted = lookup(every_key.decrypt(row.email_encrypted.encode()).decode())
        if wanted != row.email_lookup:
            changes["email_lookup"] = wanted
    if not changes:
        return
    unchanged = [getattr(StripeCustomer, name) == row._mapping[name] for name in changes]
    written = await session.scalar(
        update(StripeCustomer)
        .where(StripeCustomer.id == row.id, *unchanged)
        .values(**changes)
        .returning(StripeCustomer.id)
    )
    if written is not None:  # else stored anew or erased meanwhile
        counts.rotated += rotating
