"""Only the service's own metadata (`billing_user_id`, `billing_credits`,
`billing_purpose`) links a Stripe object to a platform user or grants credits: another
integration on the same account that writes a plain `user_id` must not. The plain keys
the service wrote before it used the prefix still count, but only on objects Stripe
created before `BILLING_LEGACY_METADATA_BEFORE`; unset, they never do.

Each scenario runs in three eras: no cutoff configured, an object created after the
cutoff (both: someone else's, nobody linked or credited), and one created before it
(the service's own from before the prefix: linked and credited, once)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from billing.core.config import Settings
from billing.db.engine import Database
from billing.payments.customers import user_for_customer
from tests.support.event_shapes import (
    NEW,
    SHAPES,
    charge,
    checkout_session,
    event,
    new_id,
    payment_intent,
    plan_invoice,
    subscription,
)
from tests.support.handler_harness import Harness, credit_price, redelivered
from tests.support.sandbox_process import Sandbox

CUTOFF = int(time.time()) - 3600  # the prefixed version was deployed an hour ago
CREATED = {"unset": CUTOFF + 600, "after": CUTOFF + 600, "before": CUTOFF - 600}
ERAS = tuple(CREATED)
USER = 5150


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    era: str = request.param
    return era


@pytest.fixture
async def harness(
    stripe_settings: Settings, stripe_sandbox: Sandbox, era: str
) -> AsyncIterator[Harness]:
    cutoff = None if era == "unset" else datetime.fromtimestamp(CUTOFF, UTC)
    settings = stripe_settings.model_copy(update={"BILLING_LEGACY_METADATA_BEFORE": cutoff})
    database = Database(settings)
    yield Harness(database, settings, stripe_sandbox.client)
    await database.dispose()


def _customer(harness: Harness) -> str:
    return str(harness.stripe.v1.customers.create(params={"email": "c@example.com"}).id)


async def test_a_checkout_session_with_a_plain_user_id(harness: Harness, era: str) -> None:
    customer = _customer(harness)
    checkout = checkout_session(
        NEW,
        mode="payment",
        payment_status="paid",
        metadata={"user_id": str(USER), "credits": "450"},
        customer=customer,
        payment_intent=new_id("pi"),
        amount_total=900,
        created=CREATED[era],
    )
    body = event(NEW, "checkout.session.completed", checkout)
    await harness.run(body, redelivered(body))

    legacy = era == "before"
    assert await harness.statuses() == ["processed"] * 2
    assert await harness.balance(USER) == (450 if legacy else 0)
    assert len(await harness.payments()) == (1 if legacy else 0)
    async with harness.database.sessions() as session:
        assert await user_for_customer(session, customer) == (USER if legacy else None)
    await harness.verify()


async def test_a_payment_intent_with_a_plain_topup_purpose(harness: Harness, era: str) -> None:
    intent = payment_intent(
        NEW,
        amount=1200,
        amount_received=1200,
        status="succeeded",
        metadata={"purpose": "topup", "user_id": str(USER), "credits": "1200"},
        created=CREATED[era],
    )
    body = event(NEW, "payment_intent.succeeded", intent)
    await harness.run(body, body, redelivered(body))

    legacy = era == "before"
    assert await harness.statuses() == ["processed"] * 2
    assert await harness.balance(USER) == (1200 if legacy else 0)
    assert len(await harness.payments()) == (1 if legacy else 0)
    await harness.verify()


async def test_a_subscription_with_a_plain_user_id(harness: Harness, era: str) -> None:
    price = credit_price(harness.stripe, amount=1000, credits=100, recurring=True)
    sub_id, created = new_id("sub"), CREATED[era]
    state = subscription(
        NEW,
        subscription_id=sub_id,
        customer=new_id("cus"),
        price=price,
        status="active",
        period=(created, created + 30 * 86400),
        metadata={"user_id": str(USER)},
    )
    await harness.run(event(NEW, "customer.subscription.created", state))

    row = await harness.subscription(sub_id)
    assert row is not None
    assert row.user_id == (USER if era == "before" else None)


@pytest.mark.parametrize("version", SHAPES)
async def test_a_subscription_invoice_with_a_plain_user_id(
    harness: Harness, era: str, version: str
) -> None:
    """Neither the subscription nor the customer is mirrored: only the subscription's
    metadata that the invoice carries could name the user."""
    price = credit_price(harness.stripe, amount=1000, credits=100, recurring=True)
    paid = plan_invoice(
        version,
        price,
        customer=new_id("cus"),
        subscription=new_id("sub"),
        subscription_metadata={"user_id": str(USER)},
    )
    paid["created"] = CREATED[era]
    body = event(version, "invoice.paid", paid)
    await harness.run(body, redelivered(body), retry_failed=False)

    if era == "before":
        assert await harness.statuses() == ["processed"] * 2
        assert await harness.ledger() == [
            ("subscription_grant", 100, f"stripe:invoice:{paid['id']}")
        ]
    else:  # waits for a link that never comes; nothing granted meanwhile
        assert await harness.statuses() == ["failed"] * 2
        assert (await harness.ledger(), await harness.payments()) == ([], [])
    await harness.verify()


async def test_a_subscription_checkout_begun_before_the_upgrade_and_paid_after(
    harness: Harness, era: str
) -> None:
    """The old version's session (plain keys) completed after the upgrade: the subscription
    and its first invoice, created then, are not read by their plain keys, but the session
    links the customer, through which both find the user."""
    price = credit_price(harness.stripe, amount=1000, credits=100, recurring=True)
    sub_id, customer, later = new_id("sub"), new_id("cus"), CUTOFF + 600
    plain = {"user_id": str(USER)}
    state = subscription(
        NEW,
        subscription_id=sub_id,
        customer=customer,
        price=price,
        status="active",
        period=(later, later + 30 * 86400),
        metadata=plain,
    )
    checkout = checkout_session(
        NEW,
        mode="subscription",
        payment_status="paid",
        metadata=plain,
        customer=customer,
        subscription=sub_id,
        payment_intent=None,
        created=CREATED[era],
    )
    first = plan_invoice(
        NEW,
        price,
        billing_reason="subscription_create",
        customer=customer,
        subscription=sub_id,
        subscription_metadata=plain,
    )
    first["created"] = later
    await harness.run(
        event(NEW, "customer.subscription.created", state),
        event(NEW, "checkout.session.completed", checkout),
        event(NEW, "invoice.paid", first),
        retry_failed=False,
    )
    row = await harness.subscription(sub_id)
    assert row is not None
    if era == "before":
        assert await harness.statuses() == ["processed"] * 3
        assert (row.user_id, await harness.balance(USER)) == (USER, 100)
    else:
        assert await harness.statuses() == ["processed", "processed", "failed"]
        assert (row.user_id, await harness.ledger()) == (None, [])
    await harness.verify()


async def test_a_refund_of_a_charge_with_a_plain_user_id(harness: Harness, era: str) -> None:
    """A charge of nobody's customer is ignored unless its metadata (copied from its
    payment intent) names a user: then its payment is on its way, and the refund waits."""
    refunded = charge(
        NEW,
        amount=1000,
        amount_refunded=1000,
        refunded=True,
        customer=new_id("cus"),
        payment_intent=new_id("pi"),
        metadata={"purpose": "topup", "user_id": str(USER), "credits": "300"},
        created=CREATED[era],
    )
    await harness.run(event(NEW, "charge.refunded", refunded), retry_failed=False)
    assert await harness.statuses() == ["failed" if era == "before" else "processed"]


async def test_the_prefixed_key_wins_over_a_plain_one(harness: Harness, era: str) -> None:
    metadata: dict[str, Any] = {
        "billing_purpose": "topup",
        "billing_user_id": str(USER),
        "billing_credits": "700",
        "purpose": "other",
        "user_id": str(USER + 1),
        "credits": "9999",
    }
    intent = payment_intent(
        NEW, amount=700, status="succeeded", metadata=metadata, created=CREATED[era]
    )
    await harness.run(event(NEW, "payment_intent.succeeded", intent))
    assert (await harness.balance(USER), await harness.balance(USER + 1)) == (700, 0)
    await harness.verify()
