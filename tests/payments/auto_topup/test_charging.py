"""The worker's auto top-ups against the sandbox: one in flight per user, a charge whose
worker stopped is charged again under the same Stripe key (so once), a top-up is settled
once, and the monthly limit is per UTC calendar month."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import stripe
from sqlalchemy import select, update

from billing.core.config import Settings
from billing.core.times import Clock, utcnow
from billing.credits import watch
from billing.db.engine import Database
from billing.db.outbox import OutboxMessage
from billing.payments.auto_topup import charging, service
from billing.payments.auto_topup.charging import AutoTopups
from billing.payments.auto_topup.models import CANCELED, CHARGING, PENDING, AutoTopup
from billing.payments.auto_topup.service import month_of
from tests.conftest import Credentials, app_database
from tests.payments.auto_topup.conftest import SETTINGS, TERMS, user_with_card
from tests.support.credits import add, spend


async def topups(database: Database, user_id: int) -> list[AutoTopup]:
    async with database.sessions() as session:
        found = await session.scalars(
            select(AutoTopup).where(AutoTopup.user_id == user_id).order_by(AutoTopup.id)
        )
        return list(found.all())


async def told(database: Database, user_id: int) -> list[str]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.user_id == user_id, OutboxMessage.type.like("topup.%"))
            .order_by(OutboxMessage.id)
        )
        return [row.type for row in rows]


def intents_for(sandbox: stripe.StripeClient, customer: str) -> list[str]:
    found = sandbox.v1.payment_intents.list({"customer": customer, "limit": 100}).data
    return [intent.id for intent in found]


async def armed_user(
    client: httpx.AsyncClient, creds: Credentials, sandbox: stripe.StripeClient, limit: int
) -> tuple[int, str]:
    """A user with a saved card, auto top-up on, and 1000 credits."""
    user, customer = await user_with_card(app_database(client), sandbox)
    terms = {"auto_topup": {**TERMS, "monthly_limit": limit}}
    saved = await client.put(SETTINGS.format(user), json=terms, headers=creds.admin())
    assert saved.status_code == 200, saved.text
    await add(client, creds.admin(), user, 1000)
    return user, customer


async def test_one_top_up_in_flight_charged_once_and_settled_once(
    stripe_client: httpx.AsyncClient,
    stripe_settings: Settings,
    creds: Credentials,
    sandbox: stripe.StripeClient,
) -> None:
    database = app_database(stripe_client)
    charge = AutoTopups(database, stripe_settings).charge_requested
    user, customer = await armed_user(stripe_client, creds, sandbox, limit=10_000)
    assert await charge() == 0  # above the threshold: nothing asked
    await spend(stripe_client, creds.admin(), user, 600)  # 400: asks
    await spend(stripe_client, creds.admin(), user, 100)  # 300: one is asked for already
    assert await charge() == 1
    [topup] = await topups(database, user)
    [intent] = intents_for(sandbox, customer)
    assert (topup.status, topup.payment_intent_id) == (PENDING, intent)
    assert sandbox.v1.payment_intents.retrieve(intent).status == "succeeded"
    await spend(stripe_client, creds.admin(), user, 100)  # still in flight: no second one
    assert await charge() == 0

    # Its worker stopped before hearing Stripe's answer: the next one charges again under
    # the same idempotency key, and Stripe answers with the same intent.
    async with database.sessions() as session, session.begin():
        stale = utcnow() - timedelta(seconds=1)
        await session.execute(
            update(AutoTopup)
            .where(AutoTopup.id == topup.id)
            .values(status=CHARGING, payment_intent_id=None, claimed_until=stale)
        )
    assert await charge() == 1
    assert intents_for(sandbox, customer) == [intent]
    assert (await topups(database, user))[0].payment_intent_id == intent

    for _ in range(2):  # the worker's answer and the webhook's, say
        async with database.sessions() as session, session.begin():
            await service.succeeded(session, topup.id, intent, utcnow())
    assert await told(database, user) == ["topup.succeeded"]
    await spend(stripe_client, creds.admin(), user, 100)  # settled: it may ask again
    assert await charge() == 1
    assert len(intents_for(sandbox, customer)) == 2


async def test_a_top_up_asked_for_before_auto_topup_was_turned_off_is_not_charged(
    stripe_client: httpx.AsyncClient,
    stripe_settings: Settings,
    stripe_api: stripe.StripeClient,
    creds: Credentials,
    sandbox: stripe.StripeClient,
) -> None:
    database = app_database(stripe_client)
    charge = AutoTopups(database, stripe_settings).charge_requested
    user, customer = await armed_user(stripe_client, creds, sandbox, limit=10_000)
    await spend(stripe_client, creds.admin(), user, 600)  # asks
    async with database.sessions() as session, session.begin():  # taken, not yet charged
        [user_asking] = await watch.take_topup_requests(session, 10)
        row = await service.start(session, stripe_settings, user_asking, utcnow())
    assert row is not None
    off = {"auto_topup": {**TERMS, "enabled": False, "monthly_limit": 10_000}}
    saved = await stripe_client.put(SETTINGS.format(user), json=off, headers=creds.admin())
    assert saved.status_code == 200, saved.text
    await charging.charge(database, stripe_api, row.id)
    assert intents_for(sandbox, customer) == []
    assert [topup.status for topup in await topups(database, user)] == [CANCELED]
    on = {"auto_topup": {**TERMS, "monthly_limit": 10_000}}
    await stripe_client.put(SETTINGS.format(user), json=on, headers=creds.admin())
    await spend(stripe_client, creds.admin(), user, 100)  # no longer in flight: asks again
    assert await charge() == 1


async def test_the_monthly_limit_holds_until_the_next_utc_month(
    stripe_client: httpx.AsyncClient,
    stripe_settings: Settings,
    creds: Credentials,
    sandbox: stripe.StripeClient,
    clock: Clock,
) -> None:
    database = app_database(stripe_client)
    charge = AutoTopups(database, stripe_settings).charge_requested
    user, customer = await armed_user(stripe_client, creds, sandbox, limit=3000)
    headers = await creds.api_key("service")
    await spend(stripe_client, headers, user, 600)
    assert await charge() == 1
    [first] = await topups(database, user)
    async with database.sessions() as session, session.begin():
        await service.succeeded(session, first.id, str(first.payment_intent_id), utcnow())
    await spend(stripe_client, headers, user, 100)  # 2000 more would make 4000 > 3000
    assert await charge() == 0
    assert await told(database, user) == ["topup.succeeded", "topup.limit_reached"]
    limit = json.loads(await _last_body(database, user))["data"]
    assert (limit["monthly_limit"], limit["charged_this_month"]) == (3000, 2000)
    await spend(stripe_client, headers, user, 100)  # no asking again this month
    assert await charge() == 0
    assert len(intents_for(sandbox, customer)) == 1

    _, next_month = month_of(utcnow())
    clock.offset = next_month - utcnow() + timedelta(minutes=1)
    await spend(stripe_client, headers, user, 100)
    assert await charge() == 1
    assert len(intents_for(sandbox, customer)) == 2


async def _last_body(database: Database, user_id: int) -> str:
    async with database.sessions() as session:
        row = await session.scalar(
            select(OutboxMessage.body)
            .where(OutboxMessage.user_id == user_id)
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    assert row is not None
    return row


def test_a_month_runs_from_its_first_utc_midnight_to_the_next() -> None:
    start, following = month_of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    assert (start, following) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    start, following = month_of(datetime(2027, 2, 1, tzinfo=UTC))
    assert (start, following) == (
        datetime(2027, 2, 1, tzinfo=UTC),
        datetime(2027, 3, 1, tzinfo=UTC),
    )
