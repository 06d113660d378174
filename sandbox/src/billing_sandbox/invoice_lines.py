"""Invoice lines in both API shapes: `pricing`/`parent` (new) and `price`/`plan`/`type`."""

from __future__ import annotations

from typing import Any

from localstripe.resources import random_id, store


def _pricing(price: Any, amount: int, quantity: int) -> dict[str, Any]:
    unit = price.unit_amount if price else amount // max(1, quantity)
    return {
        "price_details": {"price": price.id, "product": price.product} if price else None,
        "type": "price_details",
        "unit_amount_decimal": str(unit),
    }


def line(
    invoice: Any,
    *,
    amount: int,
    description: str,
    quantity: int,
    price: Any,
    period: tuple[int, int],
    proration: bool,
    item_id: str | None,
    invoice_item: str | None,
) -> dict[str, Any]:
    """One invoice line in both API shapes."""
    sub = invoice.subscription
    details = {
        "invoice_item": invoice_item,
        "proration": proration,
        "proration_details": {"credited_items": None},
        "subscription": sub,
        "subscription_item": item_id,
    }
    parent = (
        {
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": details,
        }
        if item_id
        else {
            "type": "invoice_item_details",
            "subscription_item_details": None,
            "invoice_item_details": {
                "invoice_item": invoice_item,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": sub,
            },
        }
    )
    return {
        "id": "il_" + random_id(14),
        "object": "line_item",
        "amount": amount,
        "amount_excluding_tax": amount,
        "currency": invoice.currency,
        "description": description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice.id,
        "livemode": False,
        "metadata": {},
        "parent": parent,
        "period": {"start": period[0], "end": period[1]},
        "pretax_credit_amounts": [],
        "pricing": _pricing(price, amount, quantity),
        "price": price._export() if price else None,
        "plan": price.as_plan() if price and price.recurring else None,
        "proration": proration,
        "quantity": quantity,
        "quantity_decimal": str(quantity),
        "subscription": sub,
        "subscription_item": item_id,
        "subtotal": amount,
        "tax_amounts": [],
        "tax_rates": [],
        "taxes": [],
        "type": "subscription" if item_id else "invoiceitem",
        "unit_amount_excluding_tax": str(amount // max(1, quantity)),
    }


def item_line(invoice: Any, ii: Any) -> dict[str, Any]:
    """The line for an invoice item (prorations, one-off charges)."""
    price = store.get("price:" + ii._price) if getattr(ii, "_price", None) else None
    result = line(
        invoice,
        amount=ii.amount,
        description=ii.description,
        quantity=ii.quantity,
        price=price,
        period=(ii.period["start"], ii.period["end"]),
        proration=ii.proration,
        item_id=None,
        invoice_item=ii.id,
    )
    result["id"] = "il_" + ii.id.removeprefix("ii_")
    return result
