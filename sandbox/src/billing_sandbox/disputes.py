"""Disputes as Stripe's test cards open them, and as evidence or closing ends them.

A successful charge on `pm_card_createDispute` (4000 0000 0000 0259) opens a chargeback
(`needs_response`, its funds withdrawn at once); on `pm_card_createDisputeInquiry`
(4000 0000 0000 1976) an inquiry (`warning_needs_response`, no funds moved). Evidence
whose `uncategorized_text` is `winning_evidence` wins it (`won`, funds reinstated; an
inquiry is `warning_closed`), `losing_evidence` loses it (`lost`); other evidence puts it
under review. Closing it accepts it: `lost` (an inquiry: `warning_closed`).
"""

from __future__ import annotations

import time
from typing import Any

from localstripe.resources import Charge, StripeObject, store

from . import cards, errors, events, pagination, payment_methods, routing
from .params import Params, as_bool, as_dict, metadata, reject_unknown

EVIDENCE = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
)
INQUIRY = "warning_needs_response"
CLOSED = ("won", "lost", "warning_closed")
RESPONSE_DAYS = 7


class Dispute(StripeObject):
    """A Stripe dispute on a charge."""

    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge: Charge, status: str) -> None:
        super().__init__()
        inquiry = status == INQUIRY
        brand = cards.brand(
            getattr(payment_methods.retrieve(charge.payment_method), "_card_number", "")
        )
        self.amount = charge.amount
        self.balance_transactions: list[Any] = []
        self.charge = charge.id
        self.currency = charge.currency
        self.enhanced_eligibility_types: list[str] = []
        self.evidence: dict[str, Any] = dict.fromkeys(EVIDENCE) | {"enhanced_evidence": {}}
        self.evidence_details = {
            "due_by": int(time.time()) + RESPONSE_DAYS * 86400,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
            "enhanced_eligibility": {},
        }
        self.is_charge_refundable = inquiry
        self.metadata: dict[str, str] = {}
        self.payment_intent = charge.payment_intent
        self.payment_method_details = {
            "type": "card",
            "card": {
                "brand": brand,
                "case_type": "inquiry" if inquiry else "chargeback",
                "network_reason_code": "10.4",
                "network": brand,
            },
        }
        self.reason = "general" if inquiry else "fraudulent"
        self.status = status


def open_if_tested(charge: Charge | None) -> None:
    """After a charge succeeded: the dispute its test card opens, if any."""
    if charge is None or not charge.payment_method:
        return
    status = payment_methods.dispute_for(payment_methods.retrieve(charge.payment_method))
    if status is not None:
        open(charge, status)


def open(charge: Charge, status: str = "needs_response") -> Dispute:
    """Open a dispute on a succeeded charge: a chargeback, or an inquiry (INQUIRY)."""
    if charge.status != "succeeded" or getattr(charge, "disputed", False):
        raise errors.invalid(f"Charge {charge.id} cannot be disputed.", "charge")
    if status not in ("needs_response", INQUIRY):
        raise errors.invalid(f"Invalid dispute status: {status}", "status")
    charge.disputed = True
    dispute = Dispute(charge, status)
    events.emit("charge.dispute.created", dispute)
    if status != INQUIRY:
        events.emit("charge.dispute.funds_withdrawn", dispute)
    return dispute


def _dispute(id: str) -> Dispute:
    found = store.get("dispute:" + id)
    if found is None:
        raise errors.no_such("dispute", id)
    return found


@routing.api("GET", "/v1/disputes/{id}")
def retrieve(data: Params) -> Dispute:
    return _dispute(data["id"])


@routing.api("GET", "/v1/disputes")
def list_all(data: Params) -> pagination.Page:
    """Disputes newest first, of a charge or a payment intent when given."""
    reject_unknown(data, (*pagination.PAGE_PARAMS, "charge", "payment_intent"))
    wanted = {key: data[key] for key in ("charge", "payment_intent") if data.get(key)}
    items = [
        dispute
        for dispute in pagination.stored("dispute")
        if all(getattr(dispute, key) == value for key, value in wanted.items())
    ]
    return pagination.page("/v1/disputes", items, data)


@routing.api("POST", "/v1/disputes/{id}")
def update(data: Params) -> Dispute:
    """Evidence (submitted unless `submit=false`) and metadata."""
    reject_unknown(data, ("id", "evidence", "metadata", "submit"))
    dispute = _open(data["id"])
    given = as_dict(data.get("evidence"), "evidence")
    unknown = sorted(set(given) - set(EVIDENCE))
    if unknown:
        raise errors.invalid(f"Received unknown parameter: evidence[{unknown[0]}]", "evidence")
    dispute.evidence |= given
    dispute.metadata |= metadata(data.get("metadata"))
    if as_bool(data.get("submit", True), "submit"):
        _submit(dispute)
    else:
        events.emit("charge.dispute.updated", dispute)
    return dispute


@routing.api("POST", "/v1/disputes/{id}/close")
def close(data: Params) -> Dispute:
    """Accept the dispute: it is lost (an inquiry simply closes)."""
    dispute = _open(data["id"])
    _end(dispute, won=dispute.status == INQUIRY)
    return dispute


def _open(id: str) -> Dispute:
    dispute = _dispute(id)
    if dispute.status in CLOSED:
        raise errors.invalid(f"This dispute is already closed ({dispute.status}).", "dispute")
    return dispute


def _submit(dispute: Dispute) -> None:
    details = dispute.evidence_details
    details["has_evidence"] = True
    details["submission_count"] += 1
    text = dispute.evidence.get("uncategorized_text")
    if text in ("winning_evidence", "losing_evidence"):
        _end(dispute, won=text == "winning_evidence")
        return
    dispute.status = "warning_under_review" if dispute.status == INQUIRY else "under_review"
    events.emit("charge.dispute.updated", dispute)


def _end(dispute: Dispute, *, won: bool) -> None:
    inquiry = dispute.status.startswith("warning")
    dispute.status = ("warning_closed" if inquiry else "won") if won else "lost"
    dispute.is_charge_refundable = False
    events.emit("charge.dispute.closed", dispute)
    if won and not inquiry:
        events.emit("charge.dispute.funds_reinstated", dispute)
    if not won and inquiry:  # an inquiry lost takes the funds it never took before
        events.emit("charge.dispute.funds_withdrawn", dispute)
