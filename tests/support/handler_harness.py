"""Driving handlers through the real worker path (inbox -> worker -> registry) and reading
back what they did: balances, ledger rows, payment rows, the subscription mirror."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import stripe
from sqlalchemy import select, update

from billing.core.config import Settings
from billing.core.errors import InsufficientCredits
from billing.core.times import utcnow
from billing.credits.accounts import SPEND
from billing.credits.balances import balance
from billing.credits.models import CreditGrant, CreditTransaction
from billing.credits.service import post
from billing.credits.transfers import Transfer
from billing.credits.verify import verify_ledger
from billing.db.engine import Database
from billing.db.outbox import OutboxMessage
from billing.payments.customers import link
from billing.payments.models import Payment, Subscription
from billing.stripe.client import create_client
from billing.webhooks import inbox
from billing.webhooks.handlers import registry
from billing.webhooks.handlers.context import HandlerContext
from billing.webhooks.models import DUE_STATUSES, FAILED, WebhookEvent
from billing.webhooks.processing import process_due
from billing.webhooks.worker import BATCH


def credit_price(
    client: stripe.StripeClient,
    *,
    amount: int,
    credits: int | None,
    recurring: bool = False,
    metadata: dict[str, str] | None = None,
    product_metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A price in the sandbox whose metadata grants `credits` per unit (None: none), with
    more `metadata` on the price and `product_metadata` on its new product."""
    granted = {"credits": str(credits)} if credits is not None else {}
    params: dict[str, Any] = {
        "currency": "usd",
        "unit_amount": amount,
        "metadata": {**granted, **(metadata or {})},
        "product_data": {
            "name": f"Plan {uuid.uuid4().hex[:8]}",
            "metadata": product_metadata or {},
        },
    }
    if recurring:
        params["recurring"] = {"interval": "month"}
    price: dict[str, Any] = client.v1.prices.create(params=params).to_dict(for_json=True)  # type: ignore[arg-type]
    return price


def card_payment(client: stripe.StripeClient, customer_id: str, **params: Any) -> Any:
    """A confirmed 1000-cent payment in the sandbox by the customer's test card."""
    return client.v1.payment_intents.create(
        params={
            "amount": 1000,
            "currency": "usd",
            "customer": customer_id,
            "payment_method": "pm_card_visa",
            "confirm": True,
            **params,
        }
    )


def redelivered(body: bytes) -> bytes:
    """The same event under a new id: what a replay or Stripe's duplicate events look like."""
    event = json.loads(body)
    event["id"] = f"evt_{uuid.uuid4().hex[:24]}"
    return json.dumps(event).encode()


@dataclass
class Harness:
    database: Database
    settings: Settings
    stripe: stripe.StripeClient  # the sandbox, for setting up Stripe's side

    def __post_init__(self) -> None:
        self.handlers = registry(HandlerContext(self.settings, create_client(self.settings)))

    async def deliver(self, *bodies: bytes) -> None:
        for body in bodies:
            async with self.database.sessions() as session:
                await inbox.receive(session, inbox.parse_event(body, self.settings))

    async def process(self, *, retry_failed: bool = True, rounds: int = 5) -> None:
        """Run the worker until nothing is due; failed events are made due again (their
        backoff skipped) up to `rounds` times, as time passing would."""
        for _ in range(rounds):
            batch = BATCH[self.database.dialect]  # as `billing worker` takes them
            await process_due(self.database, self.handlers, limit=1000, batch=batch)
            if not retry_failed or not await self.failed():
                return
            async with self.database.sessions() as session, session.begin():
                await session.execute(
                    update(WebhookEvent)
                    .where(WebhookEvent.status.in_(DUE_STATUSES))
                    .values(next_attempt_at=utcnow())
                )

    async def run(self, *bodies: bytes, retry_failed: bool = True) -> None:
        await self.deliver(*bodies)
        await self.process(retry_failed=retry_failed)

    async def events(self) -> list[WebhookEvent]:
        async with self.database.sessions() as session:
            query = select(WebhookEvent).order_by(WebhookEvent.id)
            return list((await session.scalars(query)).all())

    async def statuses(self) -> list[str]:
        return [event.status for event in await self.events()]

    async def failed(self) -> list[WebhookEvent]:
        return [event for event in await self.events() if event.status == FAILED]

    async def balance(self, user_id: int) -> int:
        async with self.database.sessions() as session:
            return (await balance(session, user_id)).balance

    async def ledger(self, user_id: int | None = None) -> list[tuple[str, int, str]]:
        """(kind, amount, idempotency key) of the transactions, oldest first."""
        async with self.database.sessions() as session:
            query = select(CreditTransaction).order_by(CreditTransaction.id)
            if user_id is not None:
                query = query.where(CreditTransaction.user_id == user_id)
            rows = (await session.scalars(query)).all()
        return [(row.kind, row.amount, row.idempotency_key) for row in rows]

    async def grants(self, user_id: int) -> list[CreditGrant]:
        """The user's grants as the ledger holds them, oldest first."""
        async with self.database.sessions() as session:
            query = select(CreditGrant).where(CreditGrant.user_id == user_id)
            return list((await session.scalars(query.order_by(CreditGrant.id))).all())

    async def payments(self) -> list[Payment]:
        async with self.database.sessions() as session:
            return list((await session.scalars(select(Payment).order_by(Payment.id))).all())

    async def payment(self, stripe_id: str) -> Payment:
        [found] = [p for p in await self.payments() if p.stripe_id == stripe_id]
        return found

    async def messages(self, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        """(type, data) of each message in the outbox whose type starts with `prefix`,
        oldest first."""
        async with self.database.sessions() as session:
            rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            bodies = [json.loads(row.body) for row in rows if row.type.startswith(prefix)]
        return [(body["type"], body["data"]) for body in bodies]

    async def subscription(self, subscription_id: str) -> Subscription | None:
        async with self.database.sessions() as session:
            query = select(Subscription).where(
                Subscription.stripe_subscription_id == subscription_id
            )
            found: Subscription | None = await session.scalar(query)
            return found

    async def link(self, user_id: int, customer_id: str) -> None:
        async with self.database.sessions() as session, session.begin():
            await link(session, user_id, customer_id)

    async def spend(self, user_id: int, credits: int) -> bool:
        """Spend as a platform would; whether the wallet held enough."""
        try:
            await post(self.database, Transfer(SPEND, user_id, credits, actor="test"))
        except InsufficientCredits:
            return False
        return True

    async def verify(self) -> None:
        async with self.database.sessions() as session, session.begin():
            report = await verify_ledger(session)
        assert report.ok, report.failures
