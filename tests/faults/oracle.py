"""What the design says a set of acknowledged deliveries must leave behind, worked out
from the deliveries alone, without the service's code: each payment's credits once
(per payment intent, per invoice), a refund's clawback of
`credits * max(amount_refunded) // amount` (the totals only grow; no wallet here can
fall short, as nothing is spent), and the newest state of each subscription."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tests.faults.event_mix import PLAN_CREDITS


@dataclass(frozen=True)
class Paid:
    user: int
    amount: int
    credits: int


@dataclass
class Expected:
    events: int = 0  # distinct event ids
    paid: dict[str, Paid] = field(default_factory=dict)  # by payment intent or invoice
    refunded: dict[str, int] = field(default_factory=dict)  # by payment intent: the most
    states: dict[str, tuple[int, int]] = field(default_factory=dict)  # sub: (created, qty)

    def clawed_back(self, payment: str) -> int:
        paid = self.paid[payment]
        return paid.credits * min(paid.amount, self.refunded.get(payment, 0)) // paid.amount

    def balances(self) -> dict[int, int]:
        totals: dict[int, int] = defaultdict(int)
        for payment, paid in self.paid.items():
            totals[paid.user] += paid.credits - self.clawed_back(payment)
        return dict(totals)

    def payments(self) -> dict[str, tuple[int, int, int]]:
        """Per payment: (credits, amount refunded, credits clawed back)."""
        return {
            payment: (paid.credits, self.refunded.get(payment, 0), self.clawed_back(payment))
            for payment, paid in self.paid.items()
        }

    def quantities(self) -> dict[str, int]:
        return {sub: quantity for sub, (_, quantity) in self.states.items()}


def expected_from(acknowledged: list[bytes]) -> Expected:
    expected = Expected()
    seen: set[str] = set()
    for body in acknowledged:
        envelope = json.loads(body)
        if envelope["id"] not in seen:
            seen.add(envelope["id"])
            _apply(expected, envelope["type"], envelope["data"]["object"], envelope["created"])
    expected.events = len(seen)
    return expected


def _apply(expected: Expected, kind: str, obj: dict[str, Any], created: int) -> None:
    if kind == "payment_intent.succeeded":
        credits = int(obj["metadata"]["billing_credits"])
        expected.paid[obj["id"]] = Paid(
            int(obj["metadata"]["billing_user_id"]), obj["amount"], credits
        )
    elif kind == "charge.refunded":
        intent = obj["payment_intent"]
        expected.refunded[intent] = max(expected.refunded.get(intent, 0), obj["amount_refunded"])
    elif kind in ("invoice.paid", "invoice.payment_succeeded"):
        details = obj.get("subscription_details") or obj["parent"]["subscription_details"]
        units = sum(line["quantity"] for line in obj["lines"]["data"])
        user = int(details["metadata"]["billing_user_id"])
        expected.paid[obj["id"]] = Paid(user, obj["amount_paid"], PLAN_CREDITS * units)
    elif kind == "customer.subscription.updated":
        state = (created, obj["items"]["data"][0]["quantity"])
        expected.states[obj["id"]] = max(expected.states.get(obj["id"], state), state)
    else:
        raise AssertionError(f"the oracle does not know {kind}")
