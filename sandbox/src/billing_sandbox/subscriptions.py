"""Subscriptions and their items, in both API shapes; billing periods and their invoices."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from localstripe.resources import Customer, Product, StripeObject, store

from . import events, invoices, periods
from .invoices import Invoice
from .pagination import Page
from .prices import Price

LIVE = ("active", "trialing", "past_due", "unpaid")
TIMES = "\N{MULTIPLICATION SIGN}"  # as in Stripe's invoice lines: `1 <times> Pro`


@dataclass
class ItemSpec:
    """An item asked for: a price, a quantity, metadata."""

    price: Price
    quantity: int = 1
    metadata: dict[str, str] = field(default_factory=dict)


class SubscriptionItem(StripeObject):
    """One price on a subscription; its period is the subscription's."""

    object = "subscription_item"
    _id_prefix = "si_"

    def __init__(self, subscription: str, spec: ItemSpec, created: int) -> None:
        super().__init__()
        self.created = created
        self.subscription = subscription
        self.price = spec.price
        self.quantity = spec.quantity
        self.metadata = spec.metadata
        self.billing_thresholds = None
        self.discounts: list[str] = []
        self.tax_rates: list[Any] = []

    @property
    def plan(self) -> dict[str, Any]:
        return self.price.as_plan()

    @property
    def current_period_start(self) -> int:
        return int(store["subscription:" + self.subscription]._period[0])

    @property
    def current_period_end(self) -> int:
        return int(store["subscription:" + self.subscription]._period[1])

    def amount(self) -> int:
        """What one full period of this item costs."""
        return int(self.price.unit_amount) * self.quantity

    def label(self) -> str:
        """`1 x Pro (at $10.00 / month)` (with a times sign), as Stripe words lines."""
        name = Product._api_retrieve(self.price.product).name
        interval = (self.price.recurring or {}).get("interval", "")
        return (
            f"{self.quantity} {TIMES} {name} (at ${self.price.unit_amount / 100:.2f} / {interval})"
        )


def _defaults() -> dict[str, Any]:
    return {
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor_config": None,
        "billing_mode": {"type": "classic"},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discount": None,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "latest_invoice": None,
        "managed_payments": None,
        "metadata": {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "status": "incomplete",
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
    }


class Subscription(StripeObject):
    """A Stripe subscription with old (`current_period_*`, `plan`) and new fields."""

    object = "subscription"
    _id_prefix = "sub_"

    def __init__(self, customer: str, specs: list[ItemSpec], now: int) -> None:
        super().__init__()
        self.__dict__.update(_defaults())
        self.created = self.start_date = self.billing_cycle_anchor = now
        self.customer = customer
        self.currency = specs[0].price.currency
        self.test_clock = getattr(Customer._api_retrieve(customer), "test_clock", None)
        self._period = (now, now)
        self._cycle = 0
        self._item_ids = [SubscriptionItem(self.id, spec, now).id for spec in specs]

    def item_list(self) -> list[SubscriptionItem]:
        """The items, oldest first."""
        return [store["subscription_item:" + id] for id in self._item_ids]

    @property
    def items(self) -> Page:
        return Page(f"/v1/subscription_items?subscription={self.id}", self.item_list(), False)

    @property
    def current_period_start(self) -> int:
        return int(self._period[0])

    @property
    def current_period_end(self) -> int:
        return int(self._period[1])

    @property
    def plan(self) -> dict[str, Any] | None:
        items = self.item_list()
        return items[0].plan if len(items) == 1 else None

    @property
    def quantity(self) -> int | None:
        items = self.item_list()
        return items[0].quantity if len(items) == 1 else None

    def recurring(self) -> dict[str, Any]:
        """The billing interval all items share."""
        return dict(self.item_list()[0].price.recurring or {})

    def start_period(self, anchor: int) -> None:
        """Begin billing periods at anchor."""
        self.billing_cycle_anchor = anchor
        self._cycle = 0
        self._period = (anchor, periods.shift(anchor, self.recurring(), 1))

    def next_period(self) -> None:
        """Move to the following billing period."""
        self._cycle += 1
        anchor, rule = self.billing_cycle_anchor, self.recurring()
        self._period = (
            periods.shift(anchor, rule, self._cycle),
            periods.shift(anchor, rule, self._cycle + 1),
        )


def payment_method_for(sub: Subscription) -> str | None:
    """The subscription's card, else the customer's default."""
    customer = Customer._api_retrieve(sub.customer)
    settings = customer.invoice_settings or {}
    return (
        sub.default_payment_method
        or settings.get("default_payment_method")
        or customer.default_source
    )


def bill(
    sub: Subscription, reason: str, *, created: int, trial: bool = False, items: bool = True
) -> Invoice:
    """Invoice the current period (and pending items), announce and finalize it."""
    invoice = invoices.create(
        sub.customer,
        {},
        billing_reason=reason,
        currency=sub.currency,
        subscription=sub,
        period=sub._period,
        created=created,
    )
    for item in sub.item_list() if items else []:
        name = Product._api_retrieve(item.price.product).name
        invoice.add_line(
            amount=0 if trial else item.amount(),
            description=f"Trial period for {name}" if trial else item.label(),
            quantity=item.quantity,
            price=item.price,
            period=sub._period,
            item_id=item.id,
        )
    invoices.claim_pending(invoice)
    sub.latest_invoice = invoice.id
    events.emit("invoice.created", invoice)
    invoice.finalize()
    return invoice


def updated(sub: Subscription, before: dict[str, Any]) -> None:
    """Announce a change with previous_attributes, if anything changed."""
    previous = events.changes(before, sub._export())
    if previous:
        events.emit("customer.subscription.updated", sub, previous)


def cancel_now(sub: Subscription, moment: int) -> None:
    """End the subscription at moment (customer.subscription.deleted)."""
    sub.status = "canceled"
    sub.canceled_at = sub.canceled_at or moment
    sub.ended_at = moment
    events.emit("customer.subscription.deleted", sub)


def _on_paid(invoice: Invoice) -> None:
    sub = store.get("subscription:" + str(invoice.subscription))
    if sub is None or sub.status not in ("incomplete", "past_due", "unpaid"):
        return
    before = sub._export()
    sub.status = "active"
    pi = invoice.intent()
    if sub.payment_settings["save_default_payment_method"] == "on_subscription" and pi:
        sub.default_payment_method = sub.default_payment_method or pi.payment_method
    if getattr(sub, "_creating", False):
        return
    updated(sub, before)


def _on_failed(invoice: Invoice) -> None:
    sub = store.get("subscription:" + str(invoice.subscription))
    if sub is None or sub.status not in ("active", "trialing"):
        return
    before = sub._export()
    sub.status = "past_due"
    updated(sub, before)


invoices.hooks.update(paid=_on_paid, failed=_on_failed)


def _expire(sub: Subscription, until: int) -> None:
    """An incomplete subscription unpaid for 23 hours expires, as in Stripe."""
    if sub.status != "incomplete" or until < sub.created + 23 * 3600:
        return
    before = sub._export()
    invoice = store.get(f"invoice:{sub.latest_invoice}")
    if invoice is not None and invoice.status == "open":
        invoice.void()
    sub.status = "incomplete_expired"
    sub.ended_at = sub.created + 23 * 3600
    updated(sub, before)


def advance(sub: Subscription, until: int) -> None:
    """Bring sub up to time `until`: trials end, periods renew, cancellations apply."""
    _expire(sub, until)
    while sub.status in LIVE:
        if (
            sub.status == "trialing"
            and not getattr(sub, "_trial_warned", False)
            and sub.trial_end - 3 * 86400 <= until
        ):
            sub._trial_warned = True
            events.emit("customer.subscription.trial_will_end", sub)
        end = sub._period[1]
        if sub.cancel_at and sub.cancel_at <= min(until, end):
            cancel_now(sub, sub.cancel_at)
            return
        if end > until:
            return
        _renew(sub, end)


def _renew(sub: Subscription, boundary: int) -> None:
    before = sub._export()
    if sub.status == "trialing":
        sub.status = "active"
        sub.start_period(boundary)
    else:
        sub.next_period()
    updated(sub, before)
    invoice = bill(sub, "subscription_cycle", created=boundary)
    invoice.pay(payment_method_for(sub), off_session=True)


def discard(sub: Subscription) -> None:
    """Forget a subscription that never came to be (error_if_incomplete)."""
    for key in [f"subscription_item:{id}" for id in sub._item_ids] + [
        f"invoice:{sub.latest_invoice}",
        f"subscription:{sub.id}",
    ]:
        store.pop(key, None)
    for ii in invoices.pending_items(sub.customer, sub.latest_invoice):
        ii.invoice = None


def now_for(sub: Subscription) -> int:
    """The subscription's customer's time."""
    return periods.now_for(sub.customer) if sub.test_clock else int(time.time())
