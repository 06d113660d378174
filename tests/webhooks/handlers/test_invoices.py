"""invoice.* events: subscription credits once per paid invoice by `billing_reason`, failed
payments recorded with the subscription past due, in both API shapes."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments import subscription_mirror
from billing.webhooks.models import WebhookEvent
from tests.support.activity import until_waiting_for_a_lock
from tests.support.event_shapes import (
    OLD,
    SHAPES,
    event,
    invoice,
    line_item,
    new_id,
    plan_invoice,
    subscription,
)
from tests.support.handler_harness import Harness, credit_price, redelivered

PAID, SUCCEEDED, FAILED = "invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed"
T0 = int(time.time()) - 3600


def _alerts(kind: str = "payment_failed") -> float:
    return REGISTRY.get_sample_value("billing_alerts_total", {"kind": kind}) or 0.0


def _payments(outcome: str) -> float:
    return REGISTRY.get_sample_value("billing_payments_total", {"outcome": outcome}) or 0.0


def _subscription_state(
    version: str, sub_id: str, customer: str, price: dict[str, Any], status: str
) -> dict[str, Any]:
    return subscription(
        version,
        subscription_id=sub_id,
        customer=customer,
        price=price,
        status=status,
        period=(T0, T0 + 30 * 86400),
        metadata={"billing_user_id": "9005"},
        ended_at=T0 + 20 if status == "canceled" else None,
    )


def _subscription_event(
    version: str, sub_id: str, customer: str, price: dict[str, Any], status: str, created: int
) -> bytes:
    obj = _subscription_state(version, sub_id, customer, price, status)
    return event(version, "customer.subscription.updated", obj, created=created)


@pytest.mark.parametrize("version", SHAPES)
async def test_both_paid_events_of_a_first_invoice_grant_the_plan_once(
    harness: Harness, version: str
) -> None:
    plan = credit_price(harness.stripe, amount=1000, credits=500, recurring=True)
    extra = credit_price(harness.stripe, amount=700, credits=9999, recurring=True)
    sub_id, intent, charge = new_id("sub"), new_id("pi"), new_id("ch")
    obj = invoice(
        version,
        customer=new_id("cus"),
        subscription=sub_id,
        billing_reason="subscription_create",
        subscription_metadata={"billing_user_id": "9001"},
        lines=[
            line_item(version, price=plan, quantity=2, amount=2000),
            line_item(version, price=extra, quantity=1, amount=100, proration=True),
        ],
        amount_paid=2100,
        payment_intent=intent,
        charge=charge,
    )
    paid = event(version, PAID, obj)
    await harness.run(paid, paid, event(version, SUCCEEDED, obj), redelivered(paid))

    assert await harness.statuses() == ["processed"] * 3
    # The plan's credits, and the proration line's share: 9999 * 100 / 700, rounded down.
    assert await harness.balance(9001) == 1000 + 1428
    assert await harness.ledger() == [("subscription_grant", 2428, f"stripe:invoice:{obj['id']}")]
    payment = await harness.payment(obj["id"])
    assert (payment.kind, payment.status, payment.user_id) == ("invoice", "succeeded", 9001)
    assert (payment.amount, payment.credits, payment.subscription_id) == (2100, 2428, sub_id)
    assert payment.invoice_id == obj["id"]
    # Today's invoices no longer name their payment intent or charge in the payload.
    expected = (intent, charge) if version == OLD else (None, None)
    assert (payment.payment_intent_id, payment.charge_id) == expected
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
@pytest.mark.parametrize("mirror", ["subscription", "customer"])
async def test_a_renewal_finds_its_user_through_a_mirror(
    harness: Harness, version: str, mirror: str
) -> None:
    """The invoice names no user: the subscription's mirror, else the customer's, does."""
    plan = credit_price(harness.stripe, amount=1000, credits=40, recurring=True)
    sub_id, customer = new_id("sub"), new_id("cus")
    if mirror == "subscription":
        await harness.run(_subscription_event(version, sub_id, customer, plan, "active", T0))
    else:
        await harness.link(9005, customer)
    cycle = plan_invoice(version, plan, quantity=3, customer=customer, subscription=sub_id)
    await harness.run(event(version, PAID, cycle))
    assert await harness.balance(9005) == 120
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_an_invoice_before_its_subscription_waits_for_it(
    harness: Harness, version: str
) -> None:
    plan = credit_price(harness.stripe, amount=1000, credits=250, recurring=True)
    sub_id, customer = new_id("sub"), new_id("cus")
    obj = plan_invoice(
        version, plan, billing_reason="subscription_create", customer=customer, subscription=sub_id
    )
    await harness.run(event(version, PAID, obj), retry_failed=False)
    [waiting] = await harness.events()
    assert waiting.status == "failed"
    assert "not linked to a user yet" in (waiting.last_error or "")
    assert await harness.balance(9005) == 0

    await harness.deliver(_subscription_event(version, sub_id, customer, plan, "active", T0))
    await harness.process()  # the subscription links the user; the retry then credits
    assert await harness.statuses() == ["processed", "processed"]
    assert await harness.balance(9005) == 250
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_trials_and_one_off_invoices_grant_nothing_by_default(
    harness: Harness, version: str
) -> None:
    plan = credit_price(harness.stripe, amount=1000, credits=800, recurring=True)
    customer = new_id("cus")
    await harness.link(9007, customer)
    trial = invoice(
        version,
        customer=customer,
        subscription=new_id("sub"),
        billing_reason="subscription_create",
        lines=[line_item(version, price=plan, quantity=1, amount=0)],
        amount_paid=0,
    )
    one_off = line_item(version, price=plan, quantity=1, amount=1000, invoice_item=True)
    manual = invoice(
        version,
        customer=customer,
        subscription=None,
        billing_reason="manual",
        lines=[one_off],
        amount_paid=1000,
    )
    await harness.run(event(version, PAID, trial), event(version, PAID, manual))
    assert await harness.statuses() == ["processed", "processed"]
    assert await harness.ledger() == []
    assert [(p.stripe_id, p.amount, p.credits) for p in await harness.payments()] == [
        (trial["id"], 0, 0),
        (manual["id"], 1000, 0),
    ]


def _currency_price(harness: Harness, currency: str, amount: int, credits: int) -> dict[str, Any]:
    price: dict[str, Any] = harness.stripe.v1.prices.create(
        params={
            "currency": currency,
            "unit_amount": amount,
            "recurring": {"interval": "month"},
            "metadata": {"credits": str(credits)},
            "product_data": {"name": f"Plan in {currency}"},
        }
    ).to_dict(for_json=True)
    return price


@pytest.mark.parametrize("version", SHAPES)
@pytest.mark.parametrize("case", ["free_price", "other_currency"])
async def test_a_plan_change_that_cannot_be_prorated_grants_nothing_and_alerts(
    harness: Harness, version: str, case: str
) -> None:
    """No share of a full cycle can be told when the new plan's full price is unknown (0
    here) or in another currency than the invoice: nothing is granted (not a whole
    cycle for any payment), and a person is told, once the event commits."""
    amount = 0 if case == "free_price" else 3000
    new = _currency_price(harness, "usd" if case == "free_price" else "eur", amount, 3000)
    customer = new_id("cus")
    await harness.link(9009, customer)
    lines = [line_item(version, price=new, quantity=1, amount=1500, proration=True)]
    obj = invoice(
        version,
        customer=customer,
        subscription=new_id("sub"),
        billing_reason="subscription_update",
        lines=lines,
        amount_paid=1500,
    )
    assert obj["currency"] == "usd"
    alerts = _alerts("proration_not_credited")
    await harness.run(event(version, PAID, obj), event(version, SUCCEEDED, obj))
    assert await harness.statuses() == ["processed", "processed"]
    assert await harness.balance(9009) == 0
    assert (await harness.payment(obj["id"])).credits == 0
    assert _alerts("proration_not_credited") == alerts + 1


@pytest.mark.parametrize("version", SHAPES)
async def test_a_failed_renewal_is_recorded_past_due_and_alerted(
    harness: Harness, version: str
) -> None:
    plan = credit_price(harness.stripe, amount=1000, credits=100, recurring=True)
    sub_id, customer = new_id("sub"), new_id("cus")
    await harness.run(_subscription_event(version, sub_id, customer, plan, "active", T0))
    fields = {"invoice_id": new_id("in"), "customer": customer, "subscription": sub_id}
    failed = plan_invoice(version, plan, status="open", amount_paid=0, amount_due=1000, **fields)
    alerts = _alerts()
    await harness.run(event(version, FAILED, failed, created=T0 + 10))

    payment = await harness.payment(fields["invoice_id"])
    assert (payment.kind, payment.status, payment.user_id) == ("invoice", "failed", 9005)
    assert (payment.amount, payment.credits, payment.subscription_id) == (1000, 0, sub_id)
    row = await harness.subscription(sub_id)
    assert row is not None
    assert row.status == "past_due"
    assert _alerts() == alerts + 1

    # The retried charge succeeds: the same row turns succeeded and the credits land.
    paid = plan_invoice(version, plan, **fields)
    await harness.run(event(version, PAID, paid, created=T0 + 20))
    payment = await harness.payment(fields["invoice_id"])
    assert (payment.status, payment.credits, payment.failure_message) == ("succeeded", 100, None)
    assert await harness.balance(9005) == 100
    assert len(await harness.payments()) == 1

    # The failure redelivered late: the invoice stays paid, no past due, no new alert.
    await harness.run(_subscription_event(version, sub_id, customer, plan, "active", T0 + 30))
    await harness.run(event(version, FAILED, failed, created=T0 + 40))
    assert (await harness.payment(fields["invoice_id"])).status == "succeeded"
    row = await harness.subscription(sub_id)
    assert row is not None
    assert row.status == "active"
    assert _alerts() == alerts + 1
    await harness.verify()


@pytest.mark.parametrize("version", SHAPES)
async def test_a_stale_failure_or_an_ended_subscription_is_not_made_past_due(
    harness: Harness, version: str
) -> None:
    plan = credit_price(harness.stripe, amount=1000, credits=100, recurring=True)
    stale_sub, ended_sub, customer = new_id("sub"), new_id("sub"), new_id("cus")
    await harness.run(
        _subscription_event(version, stale_sub, customer, plan, "active", T0 + 100),
        _subscription_event(version, ended_sub, customer, plan, "canceled", T0),
    )
    for sub_id in (stale_sub, ended_sub):
        failed = plan_invoice(
            version,
            plan,
            customer=customer,
            subscription=sub_id,
            status="open",
            amount_paid=0,
            amount_due=1000,
        )
        await harness.run(event(version, FAILED, failed, created=T0 + 50))
    stale, ended = await harness.subscription(stale_sub), await harness.subscription(ended_sub)
    assert stale is not None
    assert ended is not None
    assert (stale.status, ended.status) == ("active", "canceled")
    assert [p.status for p in await harness.payments()] == ["failed", "failed"]


@pytest.mark.parametrize("version", SHAPES)
async def test_an_alert_and_a_metric_are_raised_once_their_attempt_commits(
    harness: Harness, version: str
) -> None:
    """An attempt that fails after the handler raised its alert rolls back: no alert and
    no payment counted for it; the retry that commits raises them, once."""
    plan = credit_price(harness.stripe, amount=1000, credits=100, recurring=True)
    sub_id, customer = new_id("sub"), new_id("cus")
    await harness.run(_subscription_event(version, sub_id, customer, plan, "active", T0))
    failed = plan_invoice(
        version,
        plan,
        customer=customer,
        subscription=sub_id,
        status="open",
        amount_paid=0,
        amount_due=1000,
    )
    handler = harness.handlers[FAILED]

    async def then_a_later_step_fails(session: AsyncSession, event: WebhookEvent) -> None:
        await handler(session, event)
        raise RuntimeError("a later step failed")

    alerts, counted = _alerts(), _payments("failed")
    harness.handlers = {**harness.handlers, FAILED: then_a_later_step_fails}
    await harness.run(event(version, FAILED, failed, created=T0 + 10), retry_failed=False)
    assert [e.status for e in await harness.events()][-1] == "failed"
    assert (_alerts(), _payments("failed"), await harness.payments()) == (alerts, counted, [])

    harness.handlers = {**harness.handlers, FAILED: handler}
    await harness.process()
    assert set(await harness.statuses()) == {"processed"}
    assert (_alerts(), _payments("failed")) == (alerts + 1, counted + 1)


@pytest.mark.parametrize("version", SHAPES)
async def test_a_deletion_committed_meanwhile_is_not_overwritten_by_past_due(
    harness: Harness, version: str
) -> None:
    """Two workers: one commits `customer.subscription.deleted` while the other handles a
    failed renewal of the same subscription. The renewal's past due must wait for the
    row and see it ended (final), not overwrite it with the state it read before."""
    plan = credit_price(harness.stripe, amount=1000, credits=100, recurring=True)
    sub_id, customer = new_id("sub"), new_id("cus")
    await harness.run(_subscription_event(version, sub_id, customer, plan, "active", T0))
    failed = plan_invoice(
        version,
        plan,
        customer=customer,
        subscription=sub_id,
        status="open",
        amount_paid=0,
        amount_due=1000,
    )
    await harness.deliver(event(version, FAILED, failed, created=T0 + 10))
    deleted = _subscription_state(version, sub_id, customer, plan, "canceled")
    async with harness.database.sessions() as other:
        await other.begin()
        at = datetime.fromtimestamp(T0 + 20, UTC)
        await subscription_mirror.apply(other, deleted, at, legacy_before=None)
        await other.flush()  # the row is now locked by this uncommitted deletion
        worker = asyncio.create_task(harness.process(retry_failed=False))
        await until_waiting_for_a_lock(harness.database, "the worker")
        await other.commit()
    await worker
    assert await harness.statuses() == ["processed", "processed"]
    row = await harness.subscription(sub_id)
    assert row is not None
    assert (row.status, row.ended_at is not None) == ("canceled", True)
    assert (await harness.payment(failed["id"])).status == "failed"
