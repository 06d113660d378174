"""The worker's auto top-ups: take the requests the wallets' debits made, and charge each
user's saved card off-session for one.

The charge is a PaymentIntent confirmed off-session with the Stripe idempotency key
`auto_topup:<user>:<sequence>`: a worker that stops before Stripe answers leaves its
top-up `charging`, and the next one to lease it asks Stripe again under the same key, so
the card is charged at most once. Its credits arrive with `payment_intent.succeeded`,
like any top-up's; a decline or `authentication_required` settles it as failed at once.
"""

from __future__ import annotations

import stripe
import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from stripe.params import PaymentIntentCreateParams

from billing.core.config import Settings
from billing.core.errors import StripeProblem
from billing.core.times import utcnow
from billing.credits import watch
from billing.db.engine import Database
from billing.payments.auto_topup import repository, service
from billing.payments.auto_topup.cards import SavedCard, saved_card
from billing.payments.auto_topup.models import AutoTopup
from billing.payments.errors import PaymentMethodRequired
from billing.stripe.client import create_client
from billing.stripe.metadata import AUTO_TOPUP, TOPUP_ID, written

logger = structlog.get_logger(__name__)

BATCH = 50  # requests taken per pass
INTERVAL = 1.0  # seconds between passes
TAKEN = ("succeeded", "processing")  # what Stripe answers for a charge it took
Outcome = str | tuple[str, str | None] | None  # the intent; the failure; no answer


class AutoTopups:
    """The periodic job: one Stripe client for the process's life."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database, self.settings = database, settings
        self._client: stripe.StripeClient | None = None

    async def __call__(self) -> bool:
        """True when it took a full batch: there may be more waiting."""
        return await self.charge_requested() >= BATCH

    async def charge_requested(self) -> int:
        """Take the requests and the abandoned charges, and charge each; how many."""
        self._client = self._client or create_client(self.settings)
        if self._client is None:  # no Stripe configured: the requests wait for one
            return 0
        charges = await self._take()
        for topup_id in charges:
            try:
                await charge(self.database, self._client, topup_id)
            except Exception:  # the others go on; this one is leased again later
                logger.exception("auto_topup_charge_failed", topup_id=topup_id)
        return len(charges)

    async def _take(self) -> list[int]:
        now = utcnow()
        async with self.database.sessions() as session, session.begin():
            started = []
            for user_id in await watch.take_topup_requests(session, BATCH):
                try:
                    async with session.begin_nested():
                        row = await service.start(session, self.settings, user_id, now)
                except Exception:  # never left in flight: the next debit asks again
                    logger.exception("auto_topup_not_started", user_id=user_id)
                    await watch.topup_ended(session, user_id)
                    continue
                started += [row.id] if row is not None else []
            lease = now + service.LEASE
            return started + await repository.abandoned_charges(session, now, lease, BATCH)


async def charge(database: Database, client: stripe.StripeClient, topup_id: int) -> None:
    """Charge the saved card for the top-up, if it is still to be charged."""
    async with database.sessions() as session:
        async with session.begin():
            row = await service.lease(session, topup_id, utcnow())
        if row is None:
            return
        outcome = await _charge(session, client, row)
        if outcome is None:  # no answer from Stripe: charged again once the lease ends
            return
        async with session.begin():
            if isinstance(outcome, str):
                await service.charged(session, topup_id, outcome)
            else:
                await service.failed(session, topup_id, outcome, utcnow())


async def _charge(session: AsyncSession, client: stripe.StripeClient, row: AutoTopup) -> Outcome:
    try:
        card = await saved_card(session, client, row.user_id)
    except PaymentMethodRequired as missing:
        return missing.code, None
    except StripeProblem as problem:  # Stripe refused the request itself: final
        refused = isinstance(problem.__cause__, stripe.InvalidRequestError)
        return (problem.extra.get("stripe_code") or "invalid_request", None) if refused else None
    return await _create_intent(client, row, card)


async def _create_intent(client: stripe.StripeClient, row: AutoTopup, card: SavedCard) -> Outcome:
    assert row.credits is not None, "a top-up to charge has its credits"
    params: PaymentIntentCreateParams = {
        "amount": row.amount,
        "currency": row.currency,
        "customer": card.customer,
        "payment_method": card.payment_method,
        "off_session": True,
        "confirm": True,
        "metadata": written(
            row.user_id, purpose=AUTO_TOPUP, credits=str(row.credits), **{TOPUP_ID: str(row.id)}
        ),
    }
    key = f"auto_topup:{row.user_id}:{row.id}"
    try:
        intent = await client.v1.payment_intents.create_async(params, {"idempotency_key": key})
    except stripe.CardError as declined:
        made = declined.error.payment_intent if declined.error else None
        return declined.code or "card_declined", made.id if made else None
    except stripe.IdempotencyError:  # the same key in flight from another worker
        return None
    except stripe.InvalidRequestError as refused:  # a detached card, an amount too small, ...
        return refused.code or "invalid_request", None
    except stripe.StripeError as exc:
        logger.warning("auto_topup_unanswered", topup_id=row.id, error=type(exc).__name__)
        return None
    if intent.status in TAKEN:
        return intent.id
    await _cancel(client, intent.id)  # off-session, nobody is there to authenticate it
    return "authentication_required", intent.id


async def _cancel(client: stripe.StripeClient, intent_id: str) -> None:
    """So that it can never succeed later, outside the top-up's books."""
    try:
        await client.v1.payment_intents.cancel_async(intent_id)
    except stripe.StripeError as exc:
        logger.warning(
            "auto_topup_not_canceled", payment_intent=intent_id, error=type(exc).__name__
        )
