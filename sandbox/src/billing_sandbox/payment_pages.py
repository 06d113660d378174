"""`/v1/payment_pages`: the calls Stripe's hosted Checkout page makes, which the Stripe CLI's
Checkout triggers replay: retrieve the page of a session, then confirm it with a
PaymentMethod and the amount the payer was shown (`expected_amount`), refused if the
session's total differs."""

from __future__ import annotations

from typing import Any

from . import checkout, checkout_flow, errors, payment_methods, routing
from .params import Params, as_int, reject_unknown, required


def _page(session: checkout.CheckoutSession) -> dict[str, Any]:
    """The session as its page sees it: the public part of Stripe's payment page."""
    return {
        "id": session.id,
        "object": "checkout.session",
        "mode": session.mode,
        "status": session.status,
        "payment_status": session.payment_status,
        "currency": session.currency,
        "customer_email": session.customer_email,
        "payment_method_types": session.payment_method_types,
        "line_item_group": {
            "currency": session.currency,
            "subtotal": session.amount_subtotal,
            "total": session.amount_total,
            "line_items": [item._export() for item in session.item_list()],
        },
        "success_url": session.success_url,
        "cancel_url": session.cancel_url,
        "livemode": False,
    }


@routing.api("GET", "/v1/payment_pages/{id}", auth="publishable")
def retrieve(data: Params) -> dict[str, Any]:
    """The payment page of an open session."""
    return _page(checkout.retrieve(data["id"]))


@routing.api("POST", "/v1/payment_pages/{id}/confirm", auth="publishable")
def confirm(data: Params) -> dict[str, Any]:
    """Pay (or subscribe) with `payment_method`, if the total is still `expected_amount`."""
    session = checkout.retrieve(data.pop("id"))
    reject_unknown(data, ("payment_method", "expected_amount", "expected_payment_method_type"))
    expected = as_int(required(data, "expected_amount"), "expected_amount")
    if session.status != "open":
        raise errors.invalid(f"This Checkout Session is {session.status}; it cannot be paid.")
    if expected != session.amount_total:
        raise errors.invalid(
            f"The expected_amount ({expected}) does not match this Checkout Session's amount"
            f" due ({session.amount_total}). Reload the page to see the current amount.",
            "expected_amount",
        )
    pm = payment_methods.retrieve(str(required(data, "payment_method")))
    if pm.type not in session.payment_method_types:
        raise errors.invalid(
            f"This Checkout Session does not accept {pm.type} payments; it accepts "
            + ", ".join(session.payment_method_types)
            + ".",
            "payment_method",
        )
    outcome = checkout_flow.confirm(session, pm)
    if "error" in outcome:
        raise errors.StripeError(402, outcome["error"]["message"], type="card_error")
    return {**_page(session), "requires_action": bool(outcome.get("requires_action"))}
