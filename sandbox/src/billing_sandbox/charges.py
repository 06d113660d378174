"""Charges as Stripe reports them: declines in the test cards' words, outcome, details."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localstripe.resources import Charge, PaymentIntent, store

from . import cards, payment_methods


def for_intent(pi: PaymentIntent) -> Charge:
    """A charge of pi's payment method for pi: its latest, not yet tried."""
    charge = Charge(
        amount=pi.amount, currency=pi.currency, customer=pi.customer, source=pi.payment_method
    )
    charge.payment_intent = pi.id
    charge.metadata = dict(pi.metadata or {})
    pi.latest_charge = charge
    return charge


def fail(charge: Charge, decline: cards.Decline) -> None:
    """The charge failed, for this reason."""
    charge.status = "failed"
    charge.failure_code = decline.code
    charge.failure_message = decline.message
    charge._decline_code = decline.decline_code


def _set_auth_failure(self: Charge) -> None:
    fail(self, payment_methods.decline_for(payment_methods.retrieve(self.payment_method)))


def _raise_failure(self: Charge) -> None:
    decline = cards.Decline(self.failure_code, self._decline_code, self.failure_message)
    intent = PaymentIntent._api_retrieve(self.payment_intent) if self.payment_intent else None
    raise payment_methods.card_error(
        decline,
        charge=self.id,
        payment_intent=intent._export() if intent else None,
        payment_method={"id": self.payment_method},
    )


def _outcome(self: Charge) -> dict[str, Any]:
    failed = self.status == "failed"
    return {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "declined_by_network" if failed else "approved_by_network",
        "reason": getattr(self, "_decline_code", None) if failed else None,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": "The bank did not return any further details with this decline."
        if failed
        else "Payment complete.",
        "type": "issuer_declined" if failed else "authorized",
    }


def _payment_method_details(self: Charge) -> dict[str, Any]:
    pm = payment_methods.retrieve(self.payment_method)
    if pm.type != "card":  # a bank debit's method says what its charges show
        return {pm.type: pm._charge_details, "type": pm.type}
    card = dict(getattr(pm, "card", {}) or {})
    return {
        "card": {
            **card,
            "amount_authorized": self.amount,
            "network": card.get("brand"),
            "three_d_secure": None,
        },
        "type": "card",
    }


def _inherit_metadata(initialize: Callable[..., None]) -> Callable[..., None]:
    """A payment intent's charge starts with the intent's metadata, as on Stripe."""

    def initialize_charge(self: Charge, *args: Any) -> None:
        intent = store.get("payment_intent:" + str(self.payment_intent))
        if intent is not None and not self.metadata:
            self.metadata = dict(intent.metadata or {})
        initialize(self, *args)

    return initialize_charge


def install() -> None:
    """Patch localstripe's Charge to follow Stripe."""
    Charge._initialize_charge = _inherit_metadata(Charge._initialize_charge)
    Charge._decline_code = None
    Charge._set_auth_failure = _set_auth_failure
    Charge._raise_failure = _raise_failure
    Charge.outcome = property(_outcome)
    Charge.payment_method_details = property(_payment_method_details)
    Charge.billing_details = property(
        lambda self: getattr(payment_methods.retrieve(self.payment_method), "billing_details", None)
    )
    Charge.amount_captured = property(
        lambda self: self.amount if self.captured and self.status == "succeeded" else 0
    )
