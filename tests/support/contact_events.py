"""A paying customer's Stripe events, full of their personal details, delivered the way
Stripe delivers them: signed, over the webhook route, then processed by the real worker.

The events are Stripe's fixtures (`event_shapes`) with one person's details wherever
Stripe puts them: on the customer and its shipping, in `previous_attributes`, in a
checkout session's `customer_details` and `collected_information`, a charge's
`billing_details`, an intent's `charges.data[]`, an invoice's `customer_*` fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from billing.core.config import Settings
from billing.db.engine import Database
from billing.webhooks.handlers import registry
from billing.webhooks.handlers.context import HandlerContext
from billing.webhooks.processing import process_due
from tests.support.event_shapes import (
    NEW,
    OLD,
    charge,
    checkout_session,
    event,
    new_id,
    payment_intent,
    resource,
)
from tests.support.stripe_events import sign

WEBHOOK = "/api/stripe/webhook"
CREDITS, AMOUNT = 450, 900  # what the checkout buys, and pays


@dataclass(frozen=True)
class Person:
    email: str = "augusta.king@analytical.example"
    former_email: str = "ada.byron@former.example"
    name: str = "Augusta Ada King"
    phone: str = "+44 20 7946 0958"
    line1: str = "12 Difference Engine Row"
    city: str = "Marylebone"
    postal_code: str = "NW1 6XE"

    def address(self) -> dict[str, Any]:
        return {
            "city": self.city,
            "country": "GB",
            "line1": self.line1,
            "line2": None,
            "postal_code": self.postal_code,
            "state": None,
        }

    def contact(self) -> dict[str, Any]:
        """{email, name, phone, address}: a charge's billing_details, say."""
        return {
            "email": self.email,
            "name": self.name,
            "phone": self.phone,
            "address": self.address(),
        }

    def shipping(self) -> dict[str, Any]:
        return {"name": self.name, "phone": self.phone, "address": self.address()}

    def traces(self) -> tuple[str, ...]:
        """What must be found nowhere in the database in clear."""
        return (
            self.email,
            self.former_email,
            self.name,
            self.phone,
            self.line1,
            self.postal_code,
            self.city,
        )


@dataclass
class Customer:
    """A user's Stripe customer, its checkout and its charge, and the events about them."""

    user_id: int
    customer_id: str = field(default_factory=lambda: new_id("cus"))
    person: Person = field(default_factory=Person)
    intent_id: str = field(default_factory=lambda: new_id("pi"))
    charge_id: str = field(default_factory=lambda: new_id("ch"))

    def customer(self, **fields: Any) -> dict[str, Any]:
        return resource(
            "customer",
            NEW,
            id=self.customer_id,
            **self.person.contact(),
            shipping=self.person.shipping(),
            metadata={"billing_user_id": str(self.user_id)},
            **fields,
        )

    def charge(self, **fields: Any) -> dict[str, Any]:
        return charge(
            NEW,
            id=self.charge_id,
            customer=self.customer_id,
            payment_intent=self.intent_id,
            amount=AMOUNT,
            amount_captured=AMOUNT,
            billing_details={**self.person.contact(), "tax_id": None},
            receipt_email=self.person.email,
            shipping=self.person.shipping(),
            **fields,
        )

    def paying(self) -> list[bytes]:
        """The customer created and updated, its checkout completed and paid, an invoice."""
        person = self.person
        checkout = checkout_session(
            NEW,
            mode="payment",
            payment_status="paid",
            metadata={"billing_user_id": str(self.user_id), "billing_credits": str(CREDITS)},
            customer=self.customer_id,
            payment_intent=self.intent_id,
            amount_total=AMOUNT,
            customer_email=person.email,
            customer_details={**person.contact(), "tax_exempt": "none", "tax_ids": []},
            collected_information={"shipping_details": person.shipping()},
        )
        intent = payment_intent(  # the old shape still lists the intent's charges
            OLD,
            id=self.intent_id,
            customer=self.customer_id,
            amount=AMOUNT,
            amount_received=AMOUNT,
            status="succeeded",
            receipt_email=person.email,
            shipping=person.shipping(),
            charges={"object": "list", "data": [self.charge()], "has_more": False, "url": "/"},
        )
        invoice = resource(
            "invoice",
            NEW,
            id=new_id("in"),
            customer=self.customer_id,
            customer_email=person.email,
            customer_name=person.name,
            customer_phone=person.phone,
            customer_address=person.address(),
            customer_shipping=person.shipping(),
        )
        return [
            event(NEW, "customer.created", self.customer()),
            event(
                NEW,
                "customer.updated",
                self.customer(),
                previous_attributes={"email": person.former_email, "phone": None},
            ),
            event(NEW, "checkout.session.completed", checkout),
            event(NEW, "charge.succeeded", self.charge()),
            event(OLD, "payment_intent.succeeded", intent),
            event(NEW, "invoice.finalized", invoice),
        ]

    def after_erasure(self) -> list[bytes]:
        """What Stripe sends once the customer is deleted: its `customer.deleted`, as it
        was, and a late refund of its charge."""
        refunded = self.charge(amount_refunded=AMOUNT, refunded=True)
        return [
            event(NEW, "customer.deleted", self.customer(deleted=True)),
            event(NEW, "charge.refunded", refunded),
        ]


async def deliver(http: httpx.AsyncClient, secret: str, *bodies: bytes) -> None:
    """Each body signed with `secret` and posted to the webhook route, acknowledged."""
    for body in bodies:
        headers = {"Stripe-Signature": sign(body, secret), "Content-Type": "application/json"}
        response = await http.post(WEBHOOK, content=body, headers=headers)
        assert response.status_code == 200, response.text


async def process(database: Database, settings: Settings) -> None:
    """Run the worker's engine with the real handlers until nothing is due."""
    handlers = registry(HandlerContext(settings, None))
    await process_due(database, handlers, limit=1000)
