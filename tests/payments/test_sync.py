"""`billing sync` against the Stripe sandbox: the catalog and known customers' subscriptions."""

from __future__ import annotations

from datetime import timedelta

import stripe
from sqlalchemy import update
from typer.testing import CliRunner

from billing.catalog.models import Price
from billing.core.config import Settings
from billing.core.times import utcnow
from billing.db.engine import Database
from billing.payments import customers, subscription_mirror
from billing.payments.models import StripeCustomer, Subscription
from billing.payments.sync import sync_all, sync_subscriptions
from billing.runtime.cli import app
from tests.support.sandbox import customer_with_card, recurring_price
from tests.support.sandbox_process import Sandbox

USER = 7


def subscribe(sandbox: Sandbox) -> stripe.Subscription:
    """An active monthly subscription of a fresh customer, made in Stripe (not through us)."""
    price = recurring_price(sandbox.client, 1500)
    customer = customer_with_card(sandbox.client)
    return sandbox.client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price.id}]}
    )


async def link(database: Database, user_id: int, customer_id: str) -> None:
    async with database.sessions() as session, session.begin():
        await customers.link(session, user_id, customer_id)


async def mirrored(database: Database, subscription_id: str) -> Subscription | None:
    async with database.sessions() as session:
        return await subscription_mirror.by_stripe_id(session, subscription_id)


async def test_sync_mirrors_linked_customers_subscriptions_and_the_catalog(
    stripe_database: Database, stripe_api: stripe.StripeClient, stripe_sandbox: Sandbox
) -> None:
    ours, strangers = subscribe(stripe_sandbox), subscribe(stripe_sandbox)
    await link(stripe_database, USER, str(ours.customer))
    counts = await sync_all(stripe_database, stripe_api)
    assert (counts.customers, counts.subscriptions) == (1, 1)
    assert counts.products >= 1
    assert counts.prices >= 2
    row = await mirrored(stripe_database, ours.id)
    assert row is not None
    price = ours["items"].data[0].price
    assert (row.status, row.user_id, row.price_id, row.unit_amount) == (
        "active",
        USER,
        price.id,
        1500,
    )
    assert row.stripe_customer_id == ours.customer
    assert await mirrored(stripe_database, strangers.id) is None  # not our customer
    async with stripe_database.sessions() as session:
        assert await session.get(Price, price.id) is not None

    # Ended in Stripe while its events were missed: the next sync ends it here too.
    stripe_sandbox.client.v1.subscriptions.cancel(ours.id)
    counts = await sync_all(stripe_database, stripe_api)
    assert counts.subscriptions == 1
    row = await mirrored(stripe_database, ours.id)
    assert row is not None
    assert row.status == "canceled"


async def test_a_newer_state_already_mirrored_is_kept(
    stripe_database: Database, stripe_api: stripe.StripeClient, stripe_sandbox: Sandbox
) -> None:
    """A state stored from an event newer than the listing (as if it arrived meanwhile)."""
    subscription = subscribe(stripe_sandbox)
    future = utcnow() + timedelta(minutes=5)
    async with stripe_database.sessions() as session, session.begin():
        await subscription_mirror.apply(
            session,
            {**subscription.to_dict(), "status": "past_due"},
            future,
            legacy_before=None,
        )
    assert await sync_subscriptions(stripe_database, stripe_api, str(subscription.customer)) == 1
    row = await mirrored(stripe_database, subscription.id)
    assert row is not None
    assert (row.status, row.state_at) == ("past_due", future)


def test_the_command_prints_its_counts(
    stripe_settings: Settings, stripe_sandbox: Sandbox, stripe_database: Database
) -> None:
    env = {
        "DATABASE_URL": stripe_settings.DATABASE_URL,
        "BILLING_DATA_DIR": str(stripe_settings.BILLING_DATA_DIR),
        "BILLING_ENV": "development",
        "STRIPE_SECRET_KEY": "sk_test_sandbox",
        "STRIPE_API_BASE": stripe_sandbox.url,
    }
    result = CliRunner().invoke(app, ["sync"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("synced ")
    assert result.stdout.rstrip().endswith(" prices, 0 subscriptions of 0 customers")


async def test_sync_skips_erased_customers(
    stripe_database: Database, stripe_api: stripe.StripeClient, stripe_sandbox: Sandbox
) -> None:
    """An erased user's customer was deleted at Stripe: sync asks nothing about it, and
    syncs the customer the user has paid with since."""
    erased, current = subscribe(stripe_sandbox), subscribe(stripe_sandbox)
    await link(stripe_database, USER, str(erased.customer))
    async with stripe_database.sessions() as session, session.begin():
        await session.execute(
            update(StripeCustomer)
            .where(StripeCustomer.stripe_customer_id == str(erased.customer))
            .values(erased_at=utcnow())
        )
    stripe_sandbox.client.v1.customers.delete(str(erased.customer))
    await link(stripe_database, USER, str(current.customer))
    counts = await sync_all(stripe_database, stripe_api)
    assert (counts.customers, counts.subscriptions) == (1, 1)
    assert await mirrored(stripe_database, current.id) is not None
    assert await mirrored(stripe_database, erased.id) is None
