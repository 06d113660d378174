"""A realistic stream of Stripe deliveries whose effects depend on their order: top-ups,
partial refunds of them (cumulative `amount_refunded`), subscription renewals (both
`invoice.paid` and `invoice.payment_succeeded` per invoice) and subscription states, in
both API shapes, delivered out of order, redelivered under the same id and replayed
under new ids. Built from a seeded `random.Random`, so a failing run can be replayed."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

from tests.support.catalog_payloads import price_2023
from tests.support.event_shapes import (
    SHAPES,
    charge,
    event,
    new_id,
    payment_intent,
    plan_invoice,
    subscription,
)
from tests.support.handler_harness import redelivered

PLAN_CREDITS = 500  # per unit of the plan, from the price's metadata, as the catalog says
DAY = 86400
JITTER = 120  # how many places a delivery may move from its place in time
REPLAYS = 0.08  # share of events Stripe sends again under a new id


@dataclass
class Mix:
    """The plan the catalog mirror must hold, and the deliveries in arrival order."""

    plan: dict[str, Any]
    deliveries: list[bytes] = field(default_factory=list)


def build(rng: random.Random, users: int = 110, deliveries: int = 1000) -> Mix:
    """`deliveries` bodies: each user's story in time order, interleaved, jittered (a refund
    may arrive before its payment, an older state after a newer one), some events replayed
    under a new id, then same-id redeliveries until the count is reached."""
    plan = price_2023("prod_fault_plan", unit_amount=1000, metadata={"credits": str(PLAN_CREDITS)})
    t0 = int(time.time()) - 30 * DAY
    timeline: list[tuple[float, bytes]] = []
    for user in range(1, users + 1):
        version = rng.choice(SHAPES)
        story = _topups(rng, version, user) + (
            _subscriber(rng, version, user, plan, t0) if rng.random() < 0.35 else []
        )
        times = sorted(rng.random() for _ in story)
        timeline += list(zip(times, story, strict=True))
    timeline.sort(key=lambda entry: entry[0])
    stream = [body for _, body in timeline]
    stream += [redelivered(body) for body in stream if rng.random() < REPLAYS]
    order = sorted(range(len(stream)), key=lambda i: i + rng.uniform(-JITTER, JITTER))
    arrivals = [stream[i] for i in order]
    assert len(arrivals) < deliveries, "the stories alone exceed the deliveries"
    while len(arrivals) < deliveries:  # a redelivery comes after the original
        first = rng.randrange(len(arrivals))
        arrivals.insert(rng.randint(first + 1, len(arrivals)), arrivals[first])
    return Mix(plan, arrivals)


def _topups(rng: random.Random, version: str, user: int) -> list[bytes]:
    """One to three top-ups, each maybe refunded in one or two partial steps."""
    bodies = []
    for _ in range(rng.randint(1, 3)):
        amount, credits = rng.randint(500, 5000), rng.randint(100, 999)
        charge_id = new_id("ch")
        metadata = {
            "billing_purpose": "topup",
            "billing_user_id": str(user),
            "billing_credits": str(credits),
        }
        intent = payment_intent(
            version,
            amount=amount,
            amount_received=amount,
            status="succeeded",
            latest_charge=charge_id,
            metadata=metadata,
        )
        bodies.append(event(version, "payment_intent.succeeded", intent))
        refunded = 0
        for _ in range(rng.choice((0, 0, 1, 2))):
            refunded = rng.randint(refunded + 1, amount)
            refund = charge(
                version,
                id=charge_id,
                amount=amount,
                amount_captured=amount,
                amount_refunded=refunded,
                refunded=refunded == amount,
                payment_intent=intent["id"],
                metadata=metadata,
            )
            bodies.append(event(version, "charge.refunded", refund))
    return bodies


def _subscriber(
    rng: random.Random, version: str, user: int, plan: dict[str, Any], t0: int
) -> list[bytes]:
    """A subscription whose quantity changes each cycle: its states (the newest one must
    stand) and each cycle's paid invoice, reported by both invoice events."""
    sub_id, customer = new_id("sub"), new_id("cus")
    owner = {"billing_user_id": str(user)}
    bodies = []
    for cycle, quantity in enumerate(rng.sample(range(1, 6), 3)):
        start = t0 + cycle * 30 * DAY
        state = subscription(
            version,
            subscription_id=sub_id,
            customer=customer,
            price=plan,
            status="active",
            period=(start, start + 30 * DAY),
            quantity=quantity,
            metadata=owner,
            created=t0,
        )
        bodies.append(event(version, "customer.subscription.updated", state, created=start))
        if cycle == 2:
            break  # the last state's invoice is not due yet
        bill = plan_invoice(
            version,
            plan,
            quantity=quantity,
            customer=customer,
            subscription=sub_id,
            subscription_metadata=owner,
            payment_intent=new_id("pi"),
            charge=new_id("ch"),
        )
        for kind in ("invoice.paid", "invoice.payment_succeeded"):
            bodies.append(event(version, kind, bill, created=start + 1))
    return bodies


def event_ids(bodies: list[bytes]) -> list[str]:
    return [json.loads(body)["id"] for body in bodies]


def out_of_order(bodies: list[bytes]) -> tuple[int, int]:
    """(refunds that arrive before their payment, subscription states that arrive after a
    newer one of the same subscription)."""
    paid: set[str] = set()
    newest: dict[str, int] = {}
    early_refunds = stale_states = 0
    for body in bodies:
        envelope = json.loads(body)
        obj = envelope["data"]["object"]
        if envelope["type"] == "payment_intent.succeeded":
            paid.add(obj["id"])
        elif envelope["type"] == "charge.refunded":
            early_refunds += obj["payment_intent"] not in paid
        elif envelope["type"] == "customer.subscription.updated":
            stale_states += envelope["created"] < newest.get(obj["id"], 0)
            newest[obj["id"]] = max(newest.get(obj["id"], 0), envelope["created"])
    return early_refunds, stale_states
