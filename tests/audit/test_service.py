"""What leaves an audit entry: credit postings, Stripe's changes to subscriptions and
payments, admin actions; each with its actor, target and request id, in the same
transaction as the change."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx
import pytest

from billing.audit import service as audit
from billing.audit.chain import verify_chain
from billing.core.config import Settings
from billing.core.correlation import HEADER, SERVER_HEADER
from billing.db.engine import Database
from billing.payments import recorded_payments
from billing.webhooks import inbox
from billing.webhooks.handlers import registry
from billing.webhooks.handlers.context import HandlerContext
from billing.webhooks.processing import process_due
from tests.conftest import Credentials
from tests.support.audit import entries, seal_everything
from tests.support.credits import add, spend
from tests.support.event_shapes import NEW, event, new_id, resource, subscription


def request_id() -> dict[str, str]:
    return {HEADER: f"req-{uuid.uuid4().hex}"}


async def test_a_spend_and_a_grant_leave_an_entry_with_actor_and_request_id(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    granted = await add(client, {**creds.admin(), **request_id()}, 42, 100, reason="welcome")
    assert granted.status_code == 200, granted.text
    headers = {**creds.bearer(42), **request_id()}
    spent = await spend(client, headers, 42, 30)
    assert spent.status_code == 200, spent.text
    assert spent.headers[HEADER] == headers[HEADER]  # echoed

    grant, debit = await entries(database, user_id=42)
    assert (grant.actor, grant.action, grant.target) == ("admin:1", "credit.admin_grant", "user:42")
    assert grant.request_id == granted.headers[SERVER_HEADER]
    assert (debit.actor, debit.action, debit.target) == ("user:42", "credit.spend", "user:42")
    assert debit.request_id == spent.headers[SERVER_HEADER]
    assert debit.caller_request_id == headers[HEADER]
    assert debit.details == {
        "transaction_id": spent.json()["transaction_id"],
        "amount": 30,
        "balance_after": 70,
        "reference": None,
    }
    assert debit.seq is None  # the sealer chains it later
    assert debit.hash is None


async def test_the_server_id_is_recorded_and_a_callers_id_only_beside_it(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    """A caller's `X-Request-ID` cannot name (forge or collide with) another request's
    entries: each request's entry has the id the server minted for it."""
    headers = {**creds.admin(), HEADER: "forged-123"}
    granted = [await add(client, headers, 48, 10) for _ in range(2)]
    async with database.sessions() as session, session.begin():
        await audit.record(session, actor="test", action="test.outside", target="x")

    first, second, outside = await entries(database, user_id=48) + await entries(
        database, action="test.outside"
    )
    for entry, response in zip((first, second), granted, strict=True):
        assert response.status_code == 200, response.text
        assert entry.request_id == response.headers[SERVER_HEADER]
        assert re.fullmatch("[0-9a-f]{32}", entry.request_id or ""), entry.request_id
        assert entry.caller_request_id == "forged-123"
    assert first.request_id != second.request_id
    assert (outside.request_id, outside.caller_request_id) == (None, None)  # no request
    await seal_everything(database)
    async with database.sessions() as session, session.begin():
        chain = await verify_chain(session)
    assert (chain.broken, chain.sealed) == (None, 3)


async def test_replays_and_refusals_post_nothing_and_record_nothing(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    await add(client, creds.admin(), 43, 10)
    headers = {**creds.bearer(43), "Idempotency-Key": "once"}
    assert (await spend(client, headers, 43, 4)).status_code == 200
    assert (await spend(client, headers, 43, 4)).headers["Idempotent-Replayed"] == "true"
    assert (await spend(client, creds.bearer(43), 43, 1000)).status_code == 402
    assert [e.action for e in await entries(database, user_id=43)] == [
        "credit.admin_grant",
        "credit.spend",
    ]


@pytest.mark.parametrize(
    "incoming",
    [None, b"", b"x" * 65, b"has space", b"tab\there", "ünïcode".encode(), b"semi;colon", b"<a>"],
)
async def test_a_missing_or_unsafe_request_id_is_replaced(
    client: httpx.AsyncClient, creds: Credentials, incoming: bytes | None
) -> None:
    headers = [(name.encode(), value.encode()) for name, value in creds.bearer(44).items()]
    if incoming is not None:
        headers.append((HEADER.encode(), incoming))
    response = await client.get("/api/financial/credits/44", headers=headers)
    assert response.status_code == 200
    replaced = response.headers[HEADER]
    assert len(replaced) == 32  # a fresh uuid4, hex
    assert int(replaced, 16) >= 0


async def test_every_response_carries_a_request_id_even_an_error(
    client: httpx.AsyncClient,
) -> None:
    refused = await client.get("/api/financial/credits/44", headers={HEADER: "trace-1.a:b_c"})
    assert refused.status_code == 401
    assert refused.headers[HEADER] == "trace-1.a:b_c"


def _plan() -> dict[str, Any]:
    return resource(
        "price",
        NEW,
        id=new_id("price"),
        currency="usd",
        unit_amount=1500,
        recurring={"interval": "month", "interval_count": 1},
    )


async def _run_events(settings: Settings, database: Database, *bodies: bytes) -> None:
    for body in bodies:
        async with database.sessions() as session:
            await inbox.receive(session, inbox.parse_event(body, settings))
    handlers = registry(HandlerContext(settings, None))
    assert await process_due(database, handlers, limit=10) == len(bodies)


async def test_stripe_changes_to_a_subscription_are_audited_with_the_event_id(
    settings: Settings, database: Database
) -> None:
    sub_id, customer, plan, start = new_id("sub"), new_id("cus"), _plan(), int(time.time()) - 600
    period = (start, start + 30 * 86400)

    def state(status: str) -> dict[str, Any]:
        return subscription(
            NEW,
            subscription_id=sub_id,
            customer=customer,
            price=plan,
            status=status,
            period=period,
            metadata={"billing_user_id": "45"},
        )

    created = event(NEW, "customer.subscription.created", state("active"), created=start)
    updated = event(NEW, "customer.subscription.updated", state("past_due"), created=start + 5)
    stale = event(NEW, "customer.subscription.updated", state("active"), created=start + 1)
    await _run_events(settings, database, created, updated, stale)

    first, second = await entries(database, target=sub_id)
    assert (first.actor, first.action, first.user_id) == ("stripe", "subscription.created", 45)
    assert first.request_id == inbox.parse_event(created, settings).id
    assert first.caller_request_id is None  # an event has no caller's id
    assert first.details is not None
    assert first.details["changes"]["status"] == [None, "active"]
    assert first.details["changes"]["price_id"] == [None, plan["id"]]
    assert (second.action, second.request_id) == (
        "subscription.updated",
        inbox.parse_event(updated, settings).id,
    )
    assert second.details == {"changes": {"status": ["active", "past_due"]}}  # stale: no entry


async def test_a_payment_and_its_refund_are_audited_beside_their_credits(
    settings: Settings, database: Database
) -> None:
    intent_id, charge_id = new_id("pi"), new_id("ch")
    intent = resource(
        "payment_intent",
        NEW,
        id=intent_id,
        amount=1000,
        amount_received=1000,
        currency="usd",
        latest_charge=charge_id,
        metadata={"billing_purpose": "topup", "billing_user_id": "46", "billing_credits": "500"},
    )
    charge = resource(
        "charge",
        NEW,
        id=charge_id,
        payment_intent=intent_id,
        amount=1000,
        amount_refunded=400,
        refunded=False,
        metadata={"billing_user_id": "46"},
    )
    paid = event(NEW, "payment_intent.succeeded", intent)
    refunded = event(NEW, "charge.refunded", charge)
    await _run_events(settings, database, paid, refunded)

    payment, purchase, reversal, clawback = await entries(database, user_id=46)
    paid_id, refund_id = (
        inbox.parse_event(paid, settings).id,
        inbox.parse_event(refunded, settings).id,
    )
    assert (purchase.action, purchase.request_id) == ("credit.purchase", paid_id)
    assert (payment.action, payment.target, payment.request_id) == (
        "payment.created",
        intent_id,
        paid_id,
    )
    assert payment.details is not None
    assert payment.details["changes"]["status"] == [None, "succeeded"]
    assert payment.details["changes"]["credits"] == [None, 500]
    assert (reversal.action, reversal.target, reversal.request_id) == (
        "payment.updated",
        intent_id,
        refund_id,
    )
    assert reversal.details == {"changes": {"amount_refunded": [0, 400]}}
    assert (clawback.action, clawback.actor, clawback.request_id) == (
        "credit.refund_clawback",
        "stripe",
        refund_id,
    )
    assert clawback.details is not None
    assert clawback.details["amount"] == 200  # 500 credits * 400 / 1000 refunded


async def test_a_failure_then_a_success_record_each_change_once(database: Database) -> None:
    payment = recorded_payments.StripePayment(
        stripe_id=new_id("in"), kind="invoice", user_id=47, amount=900, currency="usd"
    )
    for _ in range(2):  # a redelivered failure changes nothing: no second entry
        async with database.sessions() as session, session.begin():
            await recorded_payments.record_failure(
                session, payment, failure_code="card_declined", failure_message="Declined."
            )
    async with database.sessions() as session, session.begin():
        await recorded_payments.record_success(session, payment, credits=0)
        await recorded_payments.record_failure(
            session, payment, failure_code="late", failure_message="x"
        )

    failed, succeeded = await entries(database, target=payment.stripe_id)
    assert failed.action == "payment.created"
    assert failed.details is not None
    assert failed.details["changes"]["failure_code"] == [None, "card_declined"]
    assert succeeded.action == "payment.updated"
    assert succeeded.details == {
        "changes": {
            "status": ["failed", "succeeded"],
            "failure_code": ["card_declined", None],
            "failure_message": ["Declined.", None],
        }
    }


async def test_an_admin_replay_is_audited_as_the_admins(
    client: httpx.AsyncClient, creds: Credentials, database: Database, settings: Settings
) -> None:
    body = event(NEW, "customer.updated", resource("customer", NEW, id=new_id("cus")))
    event_id = inbox.parse_event(body, settings).id
    async with database.sessions() as session:
        await inbox.receive(session, inbox.parse_event(body, settings))
    headers = {**creds.admin(), **request_id()}
    replayed = await client.post(f"/api/admin/webhooks/{event_id}/replay", headers=headers)
    assert replayed.status_code == 200, replayed.text

    [entry] = await entries(database, target=event_id)
    assert (entry.actor, entry.action, entry.request_id, entry.caller_request_id) == (
        "admin:1",
        "webhook.replayed",
        replayed.headers[SERVER_HEADER],
        headers[HEADER],
    )
    assert entry.details == {"type": "customer.updated"}


class Abandoned(Exception):
    pass


async def _record_then_abandon(database: Database) -> None:
    async with database.sessions() as session, session.begin():
        await audit.record(session, actor="test", action="test.rolled_back", target="x")
        raise Abandoned


async def test_an_entry_rolls_back_with_its_transaction(database: Database) -> None:
    with pytest.raises(Abandoned):
        await _record_then_abandon(database)
    assert await entries(database, action="test.rolled_back") == []
