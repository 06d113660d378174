"""Invoices in today's shape (and yesterday's): lines, finalization, payment, events."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from localstripe.resources import Customer, PaymentIntent, StripeObject, store

from . import events, payments
from .invoice_lines import item_line, line
from .params import Params

# Set by the subscription engine: what happens to a subscription when its invoice settles.
hooks: dict[str, Callable[[Invoice], None]] = {}

_DESCRIPTIONS = {
    "subscription_create": "Subscription creation",
    "subscription_cycle": "Subscription update",
    "subscription_update": "Subscription update",
    "manual": None,
}


def _money_defaults() -> dict[str, Any]:
    return {
        "amount_overpaid": 0,
        "amount_shipping": 0,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "starting_balance": 0,
        "discounts": [],
        "total_discount_amounts": [],
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "total_tax_amounts": [],
        "default_tax_rates": [],
        "tax": None,
        "discount": None,
    }


def _static_defaults() -> dict[str, Any]:
    return {
        "account_country": "US",
        "account_name": "Billing Sandbox",
        "account_tax_ids": None,
        "application": None,
        "application_fee_amount": None,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "custom_fields": None,
        "customer_account": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_source": None,
        "due_date": None,
        "footer": None,
        "from_invoice": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "on_behalf_of": None,
        "receipt_number": None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "statement_descriptor": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
    }


class Invoice(StripeObject):
    """A Stripe invoice; lines are subscription items or pending invoice items."""

    object = "invoice"
    _id_prefix = "in_"

    def __init__(
        self,
        customer: str,
        *,
        billing_reason: str,
        currency: str,
        created: int | None = None,
        subscription: Any = None,
        period: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        owner = Customer._api_retrieve(customer)
        self.__dict__.update(_money_defaults())
        self.__dict__.update(_static_defaults())
        self.created = created or int(time.time())
        self.customer = customer
        self.customer_email = owner.email
        self.customer_name = owner.name
        self.customer_phone = owner.phone
        self.customer_address = owner.address
        self.customer_shipping = owner.shipping
        self.currency = currency
        self.billing_reason = billing_reason
        self.collection_method = "charge_automatically"
        self.auto_advance = billing_reason != "manual"
        self.description: str | None = None
        self.metadata: dict[str, str] = {}
        self.default_payment_method: str | None = None
        self.status = "draft"
        self.number: str | None = None
        self.attempt_count = 0
        self.attempted = False
        self.next_payment_attempt: int | None = None
        self.effective_at: int | None = None
        self.ending_balance: int | None = None
        self.payment_intent: str | None = None
        self.subscription = subscription.id if subscription else None
        self._subscription_metadata = dict(subscription.metadata) if subscription else {}
        self.test_clock = getattr(owner, "test_clock", None)
        self.period_start, self.period_end = period or (self.created, self.created)
        self.status_transitions = {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        }
        self.webhooks_delivered_at: int | None = None
        self._lines: list[dict[str, Any]] = []

    def add_line(
        self,
        *,
        amount: int,
        description: str,
        quantity: int,
        price: Any,
        period: tuple[int, int],
        proration: bool = False,
        item_id: str | None = None,
        invoice_item: str | None = None,
    ) -> None:
        """Append a line in both shapes (pricing/parent and price/plan/type)."""
        self._lines.append(
            line(
                self,
                amount=amount,
                description=description,
                quantity=quantity,
                price=price,
                period=period,
                proration=proration,
                item_id=item_id,
                invoice_item=invoice_item,
            )
        )

    @property
    def lines(self) -> dict[str, Any]:
        items = [item_line(self, ii) for ii in pending_items(self.customer, self.id)]
        data = self._lines + items
        return {
            "object": "list",
            "data": data,
            "has_more": False,
            "total_count": len(data),
            "url": f"/v1/invoices/{self.id}/lines",
        }

    @property
    def subtotal(self) -> int:
        return sum(line["amount"] for line in self.lines["data"])

    total = subtotal_excluding_tax = total_excluding_tax = subtotal

    @property
    def amount_due(self) -> int:
        return max(0, self.total)

    @property
    def amount_paid(self) -> int:
        return self.amount_due if self.status == "paid" else 0

    @property
    def amount_remaining(self) -> int:
        return 0 if self.status in ("paid", "void") else self.amount_due

    @property
    def paid(self) -> bool:
        return self.status == "paid"

    @property
    def charge(self) -> str | None:
        pi = self.intent()
        return pi.latest_charge.id if pi and pi.latest_charge else None

    @property
    def confirmation_secret(self) -> dict[str, str] | None:
        pi = self.intent()
        if pi is None:
            return None
        return {"client_secret": pi.client_secret, "type": "payment_intent"}

    @property
    def parent(self) -> dict[str, Any] | None:
        if not self.subscription:
            return None
        return {
            "quote_details": None,
            "type": "subscription_details",
            "subscription_details": {
                "metadata": self._subscription_metadata,
                "subscription": self.subscription,
            },
        }

    def intent(self) -> PaymentIntent | None:
        """The PaymentIntent collecting this invoice, if one was made."""
        return PaymentIntent._api_retrieve(self.payment_intent) if self.payment_intent else None

    def finalize(self) -> None:
        """draft -> open (a zero invoice is paid at once); numbers the invoice."""
        self.status = "open"
        moment = int(time.time()) if not self.test_clock else self.created
        self.number = f"{self.customer[4:12].upper()}-{len(_numbered(self.customer)) + 1:04d}"
        self.status_transitions["finalized_at"] = moment
        self.effective_at = moment
        self.ending_balance = 0
        events.emit("invoice.finalized", self)
        if self.amount_due == 0:
            self._on_payment_success()

    def open_intent(self, payment_method: str | None) -> PaymentIntent:
        """The PaymentIntent for this invoice, made on first use, not confirmed."""
        pi = self.intent()
        if pi is None or pi.status in ("succeeded", "canceled"):
            pi = payments.new_intent(
                {
                    "amount": self.amount_due,
                    "currency": self.currency,
                    "customer": self.customer,
                    "description": _DESCRIPTIONS.get(self.billing_reason),
                }
            )
            pi.invoice = self.id
            pi.setup_future_usage = "off_session"
            self.payment_intent = pi.id
        if payment_method:
            pi.payment_method = payment_method
        return pi

    def pay(
        self, payment_method: str | None, *, off_session: bool, raise_errors: bool = False
    ) -> None:
        """Attempt payment with payment_method; failures call the failure hooks."""
        if self.status == "draft":
            self.finalize()
        if self.status != "open":
            return
        self.attempt_count += 1
        self.attempted = True
        pi = self.open_intent(payment_method)
        if not pi.payment_method:
            self._on_payment_failure_now()
            return
        payments.confirm(pi, raise_errors=raise_errors, off_session=off_session)
        if pi.status == "requires_action":
            events.emit("invoice.payment_action_required", self)

    def _on_payment_success(self) -> None:
        self.status = "paid"
        self.attempted = True
        self.next_payment_attempt = None
        self.status_transitions["paid_at"] = (
            self.status_transitions["finalized_at"] if self.test_clock else int(time.time())
        )
        events.emit("invoice.paid", self)
        events.emit("invoice.payment_succeeded", self)
        if self.subscription and "paid" in hooks:
            hooks["paid"](self)

    def _on_payment_failure_now(self) -> None:
        events.emit("invoice.payment_failed", self)
        if self.subscription and "failed" in hooks:
            hooks["failed"](self)

    _on_payment_failure_later = _on_payment_failure_now

    def void(self) -> None:
        """open -> void, cancelling its payment."""
        pi = self.intent()
        if pi is not None and pi.status not in ("succeeded", "canceled"):
            pi._canceled = True
        self.status = "void"
        self.status_transitions["voided_at"] = int(time.time())
        events.emit("invoice.voided", self)


def _numbered(customer: str) -> list[Invoice]:
    return [
        v
        for k, v in store.items()
        if k.startswith("invoice:") and v.customer == customer and getattr(v, "number", None)
    ]


def pending_items(customer: str, invoice: str | None = None) -> list[Any]:
    """Invoice items of customer on invoice (None: not yet invoiced)."""
    return [
        v
        for k, v in store.items()
        if k.startswith("invoiceitem:") and v.customer == customer and v.invoice == invoice
    ]


def claim_pending(invoice: Invoice) -> None:
    """Move the customer's pending invoice items onto invoice."""
    for ii in pending_items(invoice.customer):
        ii.invoice = invoice.id


def create(
    customer: str,
    data: Params,
    *,
    billing_reason: str,
    currency: str,
    subscription: Any = None,
    period: tuple[int, int] | None = None,
    created: int | None = None,
) -> Invoice:
    """Make a draft invoice and announce it (invoice.created)."""
    invoice = Invoice(
        customer,
        billing_reason=billing_reason,
        currency=currency,
        created=created,
        subscription=subscription,
        period=period,
    )
    invoice.description = data.get("description")
    invoice.metadata = dict(data.get("metadata") or {})
    return invoice
