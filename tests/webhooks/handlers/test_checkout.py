"""Checkout events: payment mode buys credits once; subscription mode links and mirrors."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import select, update

from billing.core.times import utcnow
from billing.credits.accounts import ADMIN_GRANT
from billing.credits.service import post
from billing.credits.transfers import Transfer
from billing.payments.customers import customer_id_for, user_for_customer
from billing.payments.models import StripeCustomer
from billing.stripe.client import create_client
from billing.webhooks.handlers import registry
from billing.webhooks.handlers.context import HandlerContext
from tests.support.event_shapes import (
    SHAPES,
    checkout_item,
    checkout_session,
    event,
    new_id,
    subscription,
)
from tests.support.handler_harness import Harness, credit_price, redelivered
from tests.support.sandbox import customer_with_card
from tests.support.stripe_proxy import StripeProxy, stripe_proxy

COMPLETED = "checkout.session.completed"
ASYNC_SUCCEEDED = "checkout.session.async_payment_succeeded"


def _sandbox_session(harness: Harness, items: list[tuple[dict[str, Any], int]]) -> str:
    """A payment-mode session in the sandbox, so its line items can be listed."""
    session = harness.stripe.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": price["id"], "quantity": qty} for price, qty in items],
            "success_url": "https://billing.test/done",
            "cancel_url": "https://billing.test/cancel",
        }
    )
    return str(session.id)


def _customer(harness: Harness) -> str:
    return str(harness.stripe.v1.customers.create(params={"email": "c@example.com"}).id)


def _without_stripe(harness: Harness) -> None:
    """Handlers with no Stripe client: any call to Stripe fails the event."""
    harness.handlers = registry(HandlerContext(harness.settings, None))


@pytest.mark.parametrize("version", SHAPES)
async def test_a_session_carrying_its_credits_is_credited_without_asking_stripe(
    harness: Harness, version: str
) -> None:
    """Sessions the service makes carry the credits it computed: no Stripe call, so none
    is made while the worker's transaction holds its locks."""
    _without_stripe(harness)
    customer, intent = _customer(harness), new_id("pi")
    obj = checkout_session(  # unknown to the sandbox, and no line items in the payload
        version,
        mode="payment",
        payment_status="paid",
        metadata={"billing_user_id": "7010", "billing_credits": "450"},
        customer=customer,
        payment_intent=intent,
        amount_total=900,
    )
    body = event(version, COMPLETED, obj)
    await harness.run(body, redelivered(body), event(version, ASYNC_SUCCEEDED, obj))
    assert await harness.statuses() == ["processed"] * 3
    assert await harness.ledger() == [("purchase", 450, f"stripe:checkout:{obj['id']}")]
    payment = await harness.payment(intent)
    assert (payment.user_id, payment.amount, payment.credits) == (7010, 900, 450)
    [grant] = await harness.grants(7010)  # referenced by the payment: refunds take it first
    assert (grant.source, grant.priority, grant.expires_at) == ("purchase", 50, None)
    assert (grant.amount, grant.reference) == (450, payment.stripe_id)
    async with harness.database.sessions() as session:
        assert await user_for_customer(session, customer) == 7010
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_malformed_credits_metadata_is_a_fault_not_a_guess(
    harness: Harness, version: str
) -> None:
    _without_stripe(harness)
    obj = checkout_session(
        version,
        mode="payment",
        payment_status="paid",
        metadata={"billing_user_id": "7011", "billing_credits": "4.5e3"},
        customer=None,
        payment_intent=new_id("pi"),
        amount_total=900,
    )
    await harness.run(event(version, COMPLETED, obj), retry_failed=False)
    [failed] = await harness.events()
    assert (failed.status, (failed.last_error or "").split(":")[0]) == (
        "failed",
        "ValidationProblem",
    )
    assert (await harness.ledger(), await harness.payments()) == ([], [])


@pytest.mark.parametrize("version", SHAPES)
async def test_client_reference_id_names_nobody(harness: Harness, version: str) -> None:
    """A buyer sets `client_reference_id` on sessions the service did not make (a Payment
    Link's `?client_reference_id=`); only the service's `user_id` metadata counts."""
    _without_stripe(harness)
    strangers, customer = _customer(harness), _customer(harness)
    fields: dict[str, Any] = {"mode": "payment", "payment_status": "paid", "amount_total": 500}
    foreign = checkout_session(
        version, client_reference_id="7012", metadata={}, customer=strangers, **fields
    )
    ours = checkout_session(
        version,
        client_reference_id="7012",
        metadata={"billing_user_id": "7013", "billing_credits": "50"},
        customer=customer,
        **fields,
    )
    await harness.run(event(version, COMPLETED, foreign), event(version, COMPLETED, ours))
    assert await harness.statuses() == ["processed", "processed"]
    assert (await harness.balance(7012), await harness.balance(7013)) == (0, 50)
    async with harness.database.sessions() as session:
        assert await user_for_customer(session, strangers) is None
        assert await user_for_customer(session, customer) == 7013


@pytest.mark.parametrize("version", SHAPES)
async def test_a_subscription_already_mirrored_is_linked_without_asking_stripe(
    harness: Harness, version: str
) -> None:
    _without_stripe(harness)
    price = credit_price(harness.stripe, amount=1000, credits=100, recurring=True)
    sub_id, customer = new_id("sub"), new_id("cus")
    now = int(time.time())
    state = subscription(
        version,
        subscription_id=sub_id,
        customer=customer,
        price=price,
        status="active",
        period=(now, now + 30 * 86400),
    )
    checkout = checkout_session(
        version,
        mode="subscription",
        payment_status="paid",
        metadata={"billing_user_id": "7014"},
        customer=customer,
        subscription=sub_id,
        payment_intent=None,
    )
    await harness.run(
        event(version, "customer.subscription.created", state), event(version, COMPLETED, checkout)
    )
    assert await harness.statuses() == ["processed", "processed"]
    row = await harness.subscription(sub_id)
    assert row is not None
    assert (row.status, row.user_id) == ("active", 7014)
    async with harness.database.sessions() as session:
        assert await user_for_customer(session, customer) == 7014


async def _until_called(proxy: StripeProxy) -> None:
    for _ in range(400):
        if proxy.calls:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the handler never called Stripe")


async def test_a_hung_stripe_never_holds_the_sqlite_write_lock_past_the_busy_timeout(
    harness: Harness,
) -> None:
    """On SQLite the worker's transaction holds the database's write lock while a handler
    waits on Stripe; other writers wait 10 s at most (the busy timeout), then fail. The
    handlers' Stripe client gives up after 5 s without retrying, so they never fail; the
    event is retried later. PostgreSQL locks rows only: there handlers keep the client
    they were given."""
    if harness.database.dialect != "sqlite":
        given = create_client(harness.settings)
        assert HandlerContext(harness.settings, given).stripe is given
        return
    checkout = checkout_session(
        SHAPES[0],
        mode="subscription",
        payment_status="paid",
        metadata={"billing_user_id": "7015"},
        customer=None,
        subscription=new_id("sub"),  # not mirrored: the handler asks Stripe
        payment_intent=None,
    )
    with stripe_proxy(str(harness.settings.STRIPE_API_BASE), hold_seconds=60) as proxy:
        hung = Harness(
            harness.database,
            harness.settings.model_copy(update={"STRIPE_API_BASE": proxy.url}),
            harness.stripe,
        )
        await hung.deliver(event(SHAPES[0], COMPLETED, checkout))
        worker = asyncio.create_task(hung.process(retry_failed=False))
        await _until_called(proxy)
        started = time.monotonic()
        # another writer meanwhile
        await post(harness.database, Transfer(ADMIN_GRANT, 7015, 5, actor="test"))
        waited = time.monotonic() - started
        await worker
    assert waited < 8
    assert len(proxy.calls) == 1  # no retry
    [failed] = await harness.events()
    assert (failed.status, (failed.last_error or "").split(":")[0]) == ("failed", "StripeProblem")
    assert await harness.balance(7015) == 5


@pytest.mark.parametrize("version", SHAPES)
async def test_paid_payment_checkout_credits_its_line_items_once(
    harness: Harness, version: str
) -> None:
    """A session made before the service wrote `credits` on it: its line items are
    priced at the catalog (from Stripe, as the payload does not include them)."""
    credited = credit_price(harness.stripe, amount=500, credits=150)
    plain = credit_price(harness.stripe, amount=300, credits=None)  # grants nothing
    session_id = _sandbox_session(harness, [(credited, 2), (plain, 1)])
    customer, intent = _customer(harness), new_id("pi")
    obj = checkout_session(
        version,
        id=session_id,
        mode="payment",
        payment_status="paid",
        client_reference_id="7001",
        metadata={"billing_user_id": "7001"},
        customer=customer,
        payment_intent=intent,
        amount_total=1300,
    )
    body = event(version, COMPLETED, obj)
    # Delivered twice (deduplicated by the inbox), replayed under a new event id, and
    # followed by the async-success event of the same session: credited once.
    await harness.run(body, body, redelivered(body), event(version, ASYNC_SUCCEEDED, obj))

    assert await harness.statuses() == ["processed"] * 3
    assert await harness.balance(7001) == 300
    assert await harness.ledger() == [("purchase", 300, f"stripe:checkout:{session_id}")]
    payment = await harness.payment(intent)
    assert (payment.kind, payment.status, payment.user_id) == ("checkout", "succeeded", 7001)
    assert (payment.amount, payment.currency, payment.credits) == (1300, "usd", 300)
    assert payment.payment_intent_id == intent
    async with harness.database.sessions() as session:
        assert await user_for_customer(session, customer) == 7001
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_line_items_in_the_payload_are_used_without_asking_stripe(
    harness: Harness, version: str
) -> None:
    price = credit_price(harness.stripe, amount=200, credits=25)
    items = {"object": "list", "data": [checkout_item(version, price=price, quantity=4)]}
    # The session id is unknown to the sandbox: listing its line items would fail.
    obj = checkout_session(
        version,
        mode="payment",
        payment_status="paid",
        client_reference_id=None,
        metadata={"billing_user_id": "7002"},
        customer=None,
        payment_intent=None,
        amount_total=800,
        line_items={**items, "has_more": False},
    )
    await harness.run(event(version, COMPLETED, obj), retry_failed=False)
    assert await harness.statuses() == ["processed"]
    assert await harness.balance(7002) == 100
    payment = await harness.payment(obj["id"])  # no payment intent: keyed by the session
    assert (payment.kind, payment.credits, payment.payment_intent_id) == ("checkout", 100, None)
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_an_unpaid_completion_waits_for_the_async_payment(
    harness: Harness, version: str
) -> None:
    price = credit_price(harness.stripe, amount=1000, credits=70)
    session_id = _sandbox_session(harness, [(price, 1)])
    fields: dict[str, Any] = {
        "id": session_id,
        "mode": "payment",
        "metadata": {"billing_user_id": "7003"},
        "customer": None,
        "payment_intent": new_id("pi"),
        "amount_total": 1000,
    }
    pending = checkout_session(version, payment_status="unpaid", **fields)
    await harness.run(event(version, COMPLETED, pending))
    assert (await harness.balance(7003), await harness.payments()) == (0, [])

    paid = checkout_session(version, payment_status="paid", **fields)
    await harness.run(event(version, ASYNC_SUCCEEDED, paid))
    assert await harness.balance(7003) == 70
    assert [p.stripe_id for p in await harness.payments()] == [fields["payment_intent"]]
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_subscription_checkout_links_the_customer_and_mirrors_without_credits(
    harness: Harness, version: str
) -> None:
    price = credit_price(harness.stripe, amount=1000, credits=1000, recurring=True)
    customer = customer_with_card(harness.stripe)
    created = harness.stripe.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price["id"]}]}
    )
    obj = checkout_session(
        version,
        mode="subscription",
        payment_status="paid",
        metadata={"billing_user_id": "7004"},
        customer=customer.id,
        subscription=created.id,
        payment_intent=None,
        amount_total=1000,
    )
    await harness.run(event(version, COMPLETED, obj))

    row = await harness.subscription(created.id)
    assert row is not None
    assert (row.status, row.user_id, row.price_id) == ("active", 7004, price["id"])
    async with harness.database.sessions() as session:
        assert await user_for_customer(session, customer.id) == 7004
    assert (await harness.ledger(), await harness.payments()) == ([], [])  # invoices grant


@pytest.mark.parametrize("version", SHAPES)
async def test_a_session_without_a_user_is_not_ours(harness: Harness, version: str) -> None:
    obj = checkout_session(
        version,
        mode="payment",
        payment_status="paid",
        client_reference_id=None,
        metadata={},
        customer=None,
        payment_intent=new_id("pi"),
        amount_total=500,
    )
    await harness.run(event(version, COMPLETED, obj))
    assert await harness.statuses() == ["processed"]
    assert (await harness.ledger(), await harness.payments()) == ([], [])


@pytest.mark.parametrize("version", SHAPES)
async def test_a_late_session_of_an_erased_customer_credits_but_links_and_stores_nothing(
    harness: Harness, version: str
) -> None:
    """The user was erased (their customer deleted at Stripe, its row marked), then pays
    again as a new customer. A session of the old customer arriving late still credits
    what was paid, but neither makes the old customer the user's again nor stores its
    contact details, on the old row or on the new one."""
    _without_stripe(harness)
    old, new = new_id("cus"), new_id("cus")
    await harness.link(7020, old)
    async with harness.database.sessions() as session, session.begin():
        await session.execute(
            update(StripeCustomer)
            .where(StripeCustomer.stripe_customer_id == old)
            .values(erased_at=utcnow())
        )
    late = checkout_session(
        version,
        mode="payment",
        payment_status="paid",
        metadata={"billing_user_id": "7020", "billing_credits": "100"},
        customer=old,
        customer_details={"email": "ada@example.com", "name": "Ada L", "phone": None},
        payment_intent=new_id("pi"),
        amount_total=200,
    )
    body = event(version, COMPLETED, late)
    await harness.run(body)  # the user has no customer now
    await harness.link(7020, new)
    await harness.run(redelivered(body))  # and now a new one
    assert await harness.statuses() == ["processed"] * 2
    assert await harness.ledger() == [("purchase", 100, f"stripe:checkout:{late['id']}")]
    async with harness.database.sessions() as session:
        assert await customer_id_for(session, 7020) == new
        assert await user_for_customer(session, old) == 7020
        rows = (await session.scalars(select(StripeCustomer))).all()
    contacts = {row.stripe_customer_id: (row.email_encrypted, row.name_encrypted) for row in rows}
    assert contacts == {old: (None, None), new: (None, None)}
