"""Completing a Checkout Session with the card typed on its hosted page."""

from __future__ import annotations

from typing import Any

from localstripe.resources import Customer, PaymentIntent, PaymentMethod, store

from . import (
    bank_debits,
    events,
    pagination,
    payment_methods,
    payments,
    subscription_api,
    subscriptions,
)
from .checkout import CheckoutSession
from .errors import StripeError
from .params import Params, metadata

Outcome = dict[str, Any]


def _customer(session: CheckoutSession, email: str, name: str) -> str | None:
    if session.customer:
        return session.customer
    keeps_method = bool(session._payment_intent_data.get("setup_future_usage"))
    if session.mode == "payment" and session.customer_creation != "always" and not keeps_method:
        return None
    customer = Customer(email=email, name=name or None)
    session.customer = customer.id
    return str(customer.id)


def _card(session: CheckoutSession, form: Params, customer: str | None) -> str:
    pm = payment_methods.create_card(
        form.get("card") or {}, {"email": form.get("email"), "name": form.get("name")}
    )
    if customer:
        pm.customer = customer
        events.emit("payment_method.attached", pm)
    return str(pm.id)


def _pay(session: CheckoutSession, customer: str | None, method: str) -> PaymentIntent:
    pi = store.get(f"payment_intent:{session.payment_intent}")
    if pi is None:
        extra = session._payment_intent_data
        pi = payments.new_intent(
            {
                "amount": session.amount_total,
                "currency": session.currency,
                "customer": customer,
                "description": extra.get("description"),
                "metadata": metadata(extra.get("metadata")),
                "payment_method_types": session.payment_method_types,
                "setup_future_usage": extra.get("setup_future_usage"),
                "shipping": extra.get("shipping"),
            }
        )
        session.payment_intent = pi.id
    pi.payment_method = method
    payments.confirm(pi, raise_errors=True)
    return pi


def _subscribe(session: CheckoutSession, customer: str, method: str) -> PaymentIntent | None:
    extra = session._subscription_data
    earlier = store.get(f"subscription:{session.subscription}")
    if earlier is not None and earlier.status == "incomplete":
        subscriptions.discard(earlier)
    with events.atomic():
        sub = subscription_api.start(
            {
                "customer": customer,
                "default_payment_method": method,
                "items": [
                    {"price": i.price.id, "quantity": i.quantity} for i in session.item_list()
                ],
                "metadata": extra.get("metadata") or {},
                "description": extra.get("description"),
                "trial_period_days": extra.get("trial_period_days"),
                "payment_behavior": "allow_incomplete",
            }
        )
        pi = store[f"invoice:{sub.latest_invoice}"].intent()
        waiting = ("requires_action", "processing")
        if sub.status == "incomplete" and pi is not None and pi.status not in waiting:
            error = pi.last_payment_error or {}
            subscriptions.discard(sub)
            raise payment_methods.card_error(
                payment_methods.cards.Decline(
                    error.get("code") or "card_declined",
                    error.get("decline_code"),
                    error.get("message") or "Your card was declined.",
                )
            )
    session.subscription = sub.id
    session.invoice = sub.latest_invoice
    return pi


def _intent(session: CheckoutSession) -> PaymentIntent | None:
    sub = store.get(f"subscription:{session.subscription}")
    if sub is not None:
        return store[f"invoice:{sub.latest_invoice}"].intent()
    return store.get(f"payment_intent:{session.payment_intent}")


def finish(session: CheckoutSession) -> Outcome:
    """Mark the session complete if its payment went through or is on its way (a bank
    debit: `unpaid` until the bank answers); tell the page what next."""
    pi = _intent(session)
    if pi is not None and pi.status == "requires_action":
        return {"requires_action": True}
    if pi is not None and pi.status not in ("succeeded", "processing"):
        return {"error": pi.last_payment_error or {"message": "Your card was declined."}}
    session.status = "complete"
    session.payment_status = {None: "no_payment_required", "processing": "unpaid"}.get(
        pi and pi.status, "paid"
    )
    events.emit("checkout.session.completed", session)
    url = str(session.success_url or "").replace("{CHECKOUT_SESSION_ID}", session.id)
    return {"redirect": url}


def _charge(session: CheckoutSession, customer: str | None, method: str) -> Outcome:
    if session.mode == "subscription":
        _subscribe(session, str(customer), method)
    else:
        _pay(session, customer, method)
    return finish(session)


def _details(email: str, name: str) -> dict[str, Any]:
    return {
        "address": None,
        "email": email or None,
        "name": name or None,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }


def complete(session: CheckoutSession, form: Params) -> Outcome:
    """Pay (or subscribe) with the typed card; errors come back for the page to show."""
    if session.status != "open":
        return {"error": {"message": "This Checkout Session is no longer active."}}
    email, name = str(form.get("email") or ""), str(form.get("name") or "")
    try:
        customer = _customer(session, email, name)
        method = _card(session, form, customer)
        session.customer_details = _details(email, name)
        return _charge(session, customer, method)
    except StripeError as error:
        return {"error": error.body["error"]}


def confirm(session: CheckoutSession, pm: PaymentMethod) -> Outcome:
    """Pay (or subscribe) with a PaymentMethod made beforehand (`payment_pages` confirm);
    errors are raised as the API's."""
    billing = pm.billing_details or {}
    email, name = str(billing.get("email") or ""), str(billing.get("name") or "")
    customer = _customer(session, email, name)
    if customer and pm.customer != customer:
        pm.customer = customer
        events.emit("payment_method.attached", pm)
    session.customer_details = _details(email, name)
    return _charge(session, customer, str(pm.id))


def _async_outcome(pi: PaymentIntent) -> None:
    """A bank debit a completed session is waiting for has been answered."""
    for session in pagination.stored("checkout.session"):
        waiting = _intent(session) if session.payment_status == "unpaid" else None
        if waiting is not None and waiting.id == pi.id:
            paid = pi.status == "succeeded"
            session.payment_status = "paid" if paid else "unpaid"
            outcome = "succeeded" if paid else "failed"
            events.emit(f"checkout.session.async_payment_{outcome}", session)


def install() -> None:
    """Hear of the bank debits Checkout sessions wait for."""
    bank_debits.on_settled(_async_outcome)


def authenticate(session: CheckoutSession, success: bool) -> Outcome:
    """The answer to the page's 3D Secure challenge."""
    sub = store.get(f"subscription:{session.subscription}")
    pi_id = store[f"invoice:{sub.latest_invoice}"].payment_intent if sub else session.payment_intent
    pi = PaymentIntent._api_retrieve(str(pi_id))
    try:
        payments.authenticate({"id": pi.id, "success": "true" if success else "false"})
    except StripeError as error:
        return {"error": error.body["error"]}
    if not success:
        return {
            "error": {
                "message": "We are unable to authenticate your payment method."
                " Please choose a different payment method and try again."
            }
        }
    return finish(session)
