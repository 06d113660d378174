"""PaymentIntents and charges as Stripe runs them: test-card outcomes, events, refunds."""

from __future__ import annotations

import time
from typing import Any

from localstripe.resources import Charge, Customer, Invoice, PaymentIntent, Refund

from . import (
    bank_debits,
    cards,
    charges,
    disputes,
    errors,
    events,
    pagination,
    payment_methods,
    routing,
)
from .params import Params, as_bool, as_dict, as_int, metadata, reject_unknown, required

_CREATE = (
    "amount",
    "currency",
    "customer",
    "payment_method",
    "metadata",
    "description",
    "confirm",
    "off_session",
    "capture_method",
    "payment_method_types",
    "receipt_email",
    "setup_future_usage",
    "automatic_payment_methods",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "return_url",
    "payment_method_options",
    "shipping",
    "confirmation_method",
    "use_stripe_sdk",
    "payment_method_data",
    "error_on_requires_action",
)
_EXTRAS = (
    "description",
    "receipt_email",
    "setup_future_usage",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "shipping",
)
_CONFIRM = (
    "payment_method",
    "payment_method_data",
    "return_url",
    "off_session",
    "setup_future_usage",
    "receipt_email",
    "client_secret",
    "use_stripe_sdk",
    "mandate_data",
    "payment_method_options",
    "error_on_requires_action",
)


_NEEDS_AUTHENTICATION = cards.Decline(
    "authentication_required",
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
)


def _invoice_of(pi: PaymentIntent) -> Any:
    return Invoice._api_retrieve(pi.invoice) if pi.invoice else None


def _on_success(self: PaymentIntent) -> None:
    _save_method(self)
    events.emit("charge.succeeded", self.latest_charge)
    events.emit("payment_intent.succeeded", self)
    invoice = _invoice_of(self)
    if invoice is not None:
        invoice._on_payment_success()
    disputes.open_if_tested(self.latest_charge)


def _save_method(pi: PaymentIntent) -> None:
    """As Stripe does, a payment made with `setup_future_usage` attaches its method to the
    customer (who may then be charged off-session with it)."""
    pm = payment_methods.retrieve(pi.payment_method) if pi.payment_method else None
    if pi.setup_future_usage and pi.customer and pm is not None and pm.customer != pi.customer:
        pm.customer = pi.customer
        events.emit("payment_method.attached", pm)


def _record_failure(self: PaymentIntent) -> None:
    events.emit("charge.failed", self.latest_charge)
    events.emit("payment_intent.payment_failed", self)
    invoice = _invoice_of(self)
    if invoice is not None:
        invoice._on_payment_failure_now()


def _report_failure(self: PaymentIntent) -> None:
    _record_failure(self)
    self.latest_charge._raise_failure()


def _last_payment_error(self: PaymentIntent) -> dict[str, Any] | None:
    if self._authentication_failed:
        return {
            "type": "invalid_request_error",
            "code": "payment_intent_authentication_failure",
            "message": "The provided PaymentMethod has failed authentication.",
        }
    charge = self.latest_charge
    if charge is None or charge.status != "failed":
        return None
    return {
        "type": "card_error",
        "charge": charge.id,
        "code": charge.failure_code,
        "decline_code": charge._decline_code,
        "message": charge.failure_message,
        "payment_method": {"id": charge.payment_method},
    }


def install() -> None:
    """Patch localstripe's PaymentIntent to follow Stripe."""
    PaymentIntent._on_success = _on_success
    PaymentIntent._record_failure = _record_failure
    PaymentIntent._report_failure = _report_failure
    PaymentIntent.last_payment_error = property(_last_payment_error)
    PaymentIntent.amount_received = property(
        lambda self: self.amount if self.status == "succeeded" else 0
    )
    PaymentIntent.amount_capturable = property(
        lambda self: self.amount if self.status == "requires_capture" else 0
    )


def confirm(pi: PaymentIntent, *, raise_errors: bool, off_session: bool = False) -> None:
    """Charge pi's payment method, or ask for 3D Secure, as the test card dictates."""
    pi._authentication_failed = False
    pi.latest_charge = (
        None if pi.latest_charge and pi.latest_charge.status == "failed" else pi.latest_charge
    )
    pm = payment_methods.retrieve(pi.payment_method)
    _check_allowed(pi, pm.type)
    if pm.type in bank_debits.TYPES:
        bank_debits.start(pi, pm)
        return
    if pm._requires_authentication():
        if off_session:
            _authentication_required(pi, raise_errors)
            return
        pi.next_action = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": ""},
        }
        events.emit("payment_intent.requires_action", pi)
        return
    pi._create_charge(on_failure_now=pi._report_failure if raise_errors else pi._record_failure)


def _check_allowed(pi: PaymentIntent, type: str) -> None:
    allowed = getattr(pi, "payment_method_types", None) or []
    if pi.invoice or getattr(pi, "automatic_payment_methods", None) or type in allowed:
        return  # an invoice's intent takes what its payment settings (none here) allow
    raise errors.invalid(
        f"The PaymentMethod provided ({type}) is not allowed for this PaymentIntent. Please"
        " attach a PaymentMethod of one of the following types: "
        + ", ".join(allowed)
        + ". Alternatively update the allowed payment_method_types for this PaymentIntent.",
        "payment_method",
    )


def _authentication_required(pi: PaymentIntent, raise_errors: bool) -> None:
    """Off-session, nobody is there to authenticate: the charge fails as Stripe's does and
    the intent needs a payment method again."""
    charges.fail(charges.for_intent(pi), _NEEDS_AUTHENTICATION)
    if raise_errors:
        pi._report_failure()
    else:
        pi._record_failure()


def _use_method(pi: PaymentIntent, data: Params) -> None:
    if data.get("payment_method_data"):
        pm = payment_methods.build(as_dict(data["payment_method_data"], "payment_method_data"))
        pi.payment_method = pm.id
    elif data.get("payment_method"):
        pi.payment_method = payment_methods.retrieve(str(data["payment_method"])).id


def new_intent(data: Params) -> PaymentIntent:
    """A PaymentIntent from Stripe's create parameters (not confirmed)."""
    customer = data.get("customer")
    if customer:
        Customer._api_retrieve(str(customer))
    pi = PaymentIntent(
        amount=as_int(required(data, "amount"), "amount"),
        currency=str(required(data, "currency")).lower(),
        customer=customer or None,
        metadata=metadata(data.get("metadata")),
        capture_method=data.get("capture_method"),
    )
    _use_method(pi, data)
    for name in _EXTRAS:
        setattr(pi, name, data.get(name) or None)
    if data.get("automatic_payment_methods"):
        pi.automatic_payment_methods = {"allow_redirects": "always", "enabled": True}
    pi.payment_method_types = list(data.get("payment_method_types") or ["card"])
    pi.canceled_at = None
    pi.cancellation_reason = None
    events.emit("payment_intent.created", pi)
    return pi


@routing.api("POST", "/v1/payment_intents")
def create(data: Params) -> PaymentIntent:
    """Create (and with confirm=true, confirm) a PaymentIntent."""
    reject_unknown(data, _CREATE)
    pi = new_intent(data)
    if as_bool(data.get("confirm", False), "confirm"):
        if not pi.payment_method:
            raise errors.invalid(
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                "payment_method",
            )
        confirm(
            pi,
            raise_errors=True,
            off_session=as_bool(data.get("off_session", False), "off_session"),
        )
    return pi


@routing.api("GET", "/v1/payment_intents")
def list_all(data: Params) -> pagination.Page:
    """PaymentIntents newest first, a customer's when `customer` is given."""
    reject_unknown(data, (*pagination.PAGE_PARAMS, "customer"))
    customer = data.get("customer")
    items = [
        pi for pi in pagination.stored("payment_intent") if not customer or pi.customer == customer
    ]
    return pagination.page("/v1/payment_intents", items, data)


def _intent_for(data: Params) -> PaymentIntent:
    pi = PaymentIntent._api_retrieve(data["id"])
    secret = data.get("client_secret")
    if secret is not None and secret != pi.client_secret:
        raise errors.invalid(
            "The client_secret provided does not match this PaymentIntent.", "client_secret"
        )
    return pi


@routing.api("POST", "/v1/payment_intents/{id}/confirm", auth="publishable")
def confirm_route(data: Params) -> PaymentIntent:
    """Confirm with the payment method given now or before (Stripe.js posts here too)."""
    pi = _intent_for(data)
    reject_unknown(data, (*_CONFIRM, "id"))
    if pi.status not in ("requires_payment_method", "requires_confirmation"):
        raise errors.StripeError(
            400,
            f"This PaymentIntent's status is {pi.status}; it cannot be confirmed.",
            code="payment_intent_unexpected_state",
        )
    _use_method(pi, data)
    if not pi.payment_method:
        raise errors.invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            "payment_method",
        )
    confirm(
        pi, raise_errors=True, off_session=as_bool(data.get("off_session", False), "off_session")
    )
    return pi


@routing.api("POST", "/v1/payment_intents/{id}/_authenticate", auth="publishable")
def authenticate(data: Params) -> PaymentIntent:
    """The 3D Secure challenge's answer (Stripe.js stand-in and hosted pages post here)."""
    pi = _intent_for(data)
    if pi.status != "requires_action":
        raise errors.invalid("This PaymentIntent does not require authentication.")
    pi.next_action = None
    if as_bool(data.get("success", False), "success"):
        payment_methods.retrieve(pi.payment_method)._authenticated = True
        pi._create_charge(on_failure_now=pi._report_failure)
        return pi
    pi._authentication_failed = True
    pi.payment_method = None
    events.emit("payment_intent.payment_failed", pi)
    invoice = _invoice_of(pi)
    if invoice is not None:
        invoice._on_payment_failure_now()
    return pi


@routing.api("POST", "/v1/payment_intents/{id}/cancel")
def cancel(data: Params) -> PaymentIntent:
    """Cancel an intent that has not succeeded."""
    pi = PaymentIntent._api_retrieve(data["id"])
    if pi.status in ("succeeded", "canceled", "processing"):
        raise errors.StripeError(
            400,
            f"You cannot cancel this PaymentIntent because it has a status of {pi.status}.",
            code="payment_intent_unexpected_state",
        )
    pi._canceled = True
    pi.next_action = None
    pi.canceled_at = int(time.time())
    pi.cancellation_reason = data.get("cancellation_reason") or "requested_by_customer"
    events.emit("payment_intent.canceled", pi)
    return pi


@routing.api("POST", "/v1/refunds")
def refund(data: Params) -> Refund:
    """Refund a charge or payment intent, whole or in part; emits charge.refunded."""
    reject_unknown(
        data, ("charge", "payment_intent", "amount", "metadata", "reason", "instructions_email")
    )
    charge_id = data.get("charge")
    if data.get("payment_intent"):
        pi = PaymentIntent._api_retrieve(str(data["payment_intent"]))
        if pi.latest_charge is None or pi.status != "succeeded":
            raise errors.StripeError(
                400,
                "This PaymentIntent does not have a successful charge to refund.",
                code="charge_already_refunded",
            )
        charge_id = pi.latest_charge.id
    charge = Charge._api_retrieve(str(required({"charge": charge_id}, "charge")))
    amount = as_int(data.get("amount", charge.amount - charge.amount_refunded), "amount")
    if amount <= 0 or amount > charge.amount - charge.amount_refunded:
        raise errors.StripeError(
            400,
            f"Refund amount ({amount}) is greater than unrefunded amount on charge.",
            code="amount_too_large",
            param="amount",
        )
    created = Refund(charge=charge.id, amount=amount, metadata=metadata(data.get("metadata")))
    created.payment_intent = charge.payment_intent
    created.reason = data.get("reason")
    events.emit("refund.created", created)
    events.emit("charge.refunded", charge)
    return created
