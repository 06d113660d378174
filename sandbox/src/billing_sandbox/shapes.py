"""Fields today's Stripe objects carry that localstripe's objects lack, filled in on export."""

from __future__ import annotations

import copy
from typing import Any

from localstripe.resources import StripeObject

_ADDRESS = {
    "city": None,
    "country": None,
    "line1": None,
    "line2": None,
    "postal_code": None,
    "state": None,
}

DEFAULTS: dict[str, dict[str, Any]] = {
    "customer": {
        "balance": 0,
        "invoice_prefix": None,
        "next_invoice_sequence": 1,
        "tax_exempt": "none",
        "test_clock": None,
        "preferred_locales": [],
    },
    "payment_intent": {
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "confirmation_method": "automatic",
        "customer_account": None,
        "description": None,
        "excluded_payment_method_types": None,
        "managed_payments": None,
        "on_behalf_of": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "transfer_data": None,
        "transfer_group": None,
    },
    "charge": {
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "billing_details": {"address": _ADDRESS, "email": None, "name": None, "phone": None},
        "calculated_statement_descriptor": "SANDBOX",
        "disputed": False,
        "failure_balance_transaction": None,
        "fraud_details": {},
        "on_behalf_of": None,
        "outcome": None,
        "payment_method_details": None,
        "receipt_url": None,
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor_suffix": None,
        "transfer_data": None,
        "transfer_group": None,
    },
    "refund": {
        "customer": None,
        "customer_account": None,
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "payment_method": None,
        "reason": None,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "transfer_reversal": None,
    },
    "payment_method": {"allow_redisplay": "unspecified", "customer_account": None},
    "product": {
        "default_price": None,
        "images": [],
        "marketing_features": [],
        "package_dimensions": None,
        "tax_code": None,
        "unit_label": None,
    },
    "plan": {"meter": None, "transform_usage": None},
    "invoiceitem": {
        "customer_account": None,
        "discountable": True,
        "discounts": [],
        "parent": None,
        "pricing": None,
        "test_clock": None,
    },
    "setup_intent": {
        "application": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "description": None,
        "excluded_payment_method_types": None,
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "mandate": None,
        "on_behalf_of": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "single_use_mandate": None,
    },
    "balance_transaction": {"balance_type": "payments"},
    "coupon": {"name": None},
    "tax_rate": {
        "country": None,
        "effective_percentage": None,
        "flat_amount": None,
        "jurisdiction_level": None,
        "rate_type": "percentage",
        "state": None,
        "tax_type": None,
    },
    "card": {"regulated_status": "unregulated"},
    "token": {"client_ip": None, "used": False},
}


# localstripe nests objects Stripe returns as ids unless `expand`ed.
COLLAPSED: dict[str, tuple[str, ...]] = {"payment_intent": ("latest_charge",)}


def _collapse(data: dict[str, Any], expand: list[str] | None) -> None:
    for field in COLLAPSED.get(str(data.get("object")), ()):
        wanted = any(p == field or p.startswith(field + ".") for p in expand or [])
        if isinstance(data.get(field), dict) and not wanted:
            data[field] = data[field]["id"]


def complete(data: dict[str, Any]) -> dict[str, Any]:
    """Add the fields a Stripe object of this type has that the export lacks."""
    for key, value in DEFAULTS.get(str(data.get("object")), {}).items():
        if key not in data:
            data[key] = copy.deepcopy(value)
    return data


def install() -> None:
    """Make every localstripe export carry today's fields."""
    original = StripeObject._export

    def export(self: StripeObject, expand: list[str] | None = None) -> dict[str, Any]:
        # localstripe exports every public attribute, methods included: keep the data.
        data = {k: v for k, v in original(self, expand=expand).items() if not callable(v)}
        _collapse(data, expand)
        return complete(data)

    StripeObject._export = export
