"""/v1/invoices and /v1/invoiceitems for the sandbox's invoices."""

from __future__ import annotations

from typing import Any

from localstripe.resources import Customer, InvoiceItem, store

from . import errors, events, invoices, pagination, payment_methods, periods, prices, routing
from .invoices import Invoice
from .params import Params, as_bool, as_int, metadata, reject_unknown, required

_ITEM = (
    "customer",
    "amount",
    "currency",
    "price",
    "quantity",
    "invoice",
    "description",
    "metadata",
    "subscription",
    "period",
    "pricing",
)


def _invoice(id: str) -> Invoice:
    invoice = store.get("invoice:" + id)
    if not isinstance(invoice, Invoice):
        raise errors.no_such("invoice", id)
    return invoice


def _open(invoice: Invoice) -> None:
    if invoice.status != "open":
        raise errors.StripeError(
            400,
            f"Invoice is {invoice.status}; only open invoices can be paid or voided.",
            code="invoice_not_open",
        )


@routing.api("POST", "/v1/invoices")
def create(data: Params) -> Invoice:
    """A manual draft invoice (billing_reason=manual) for the customer's items."""
    reject_unknown(
        data,
        (
            "customer",
            "auto_advance",
            "collection_method",
            "description",
            "metadata",
            "pending_invoice_items_behavior",
            "currency",
            "default_payment_method",
            "days_until_due",
            "subscription",
        ),
    )
    customer = Customer._api_retrieve(str(required(data, "customer")))
    pending = invoices.pending_items(customer.id)
    currency = data.get("currency") or (pending[0].currency if pending else "usd")
    invoice = invoices.create(
        customer.id,
        data,
        billing_reason="manual",
        currency=currency,
        created=periods.now_for(customer.id),
    )
    invoice.default_payment_method = data.get("default_payment_method")
    if "auto_advance" in data:
        invoice.auto_advance = as_bool(data["auto_advance"], "auto_advance")
    if data.get("pending_invoice_items_behavior") == "include":
        invoices.claim_pending(invoice)
    events.emit("invoice.created", invoice)
    return invoice


@routing.api("GET", "/v1/invoices/{id}")
def retrieve(data: Params) -> Invoice:
    """Retrieve an invoice."""
    return _invoice(data["id"])


@routing.api("POST", "/v1/invoices/{id}")
def update(data: Params) -> Invoice:
    """Change description, metadata or auto_advance."""
    invoice = _invoice(data.pop("id"))
    reject_unknown(data, ("description", "metadata", "auto_advance", "default_payment_method"))
    if "metadata" in data:
        invoice.metadata = metadata(data["metadata"], invoice.metadata)
    if "description" in data:
        invoice.description = data["description"] or None
    if "auto_advance" in data:
        invoice.auto_advance = as_bool(data["auto_advance"], "auto_advance")
    if "default_payment_method" in data:
        invoice.default_payment_method = data["default_payment_method"] or None
    events.emit("invoice.updated", invoice)
    return invoice


@routing.api("DELETE", "/v1/invoices/{id}")
def delete(data: Params) -> dict[str, Any]:
    """Delete a draft invoice."""
    invoice = _invoice(data["id"])
    if invoice.status != "draft":
        raise errors.invalid("You can only delete draft invoices.")
    for ii in invoices.pending_items(invoice.customer, invoice.id):
        ii.invoice = None
    del store["invoice:" + invoice.id]
    events.emit("invoice.deleted", invoice)
    return {"id": invoice.id, "object": "invoice", "deleted": True}


@routing.api("POST", "/v1/invoices/{id}/finalize")
def finalize(data: Params) -> Invoice:
    """draft -> open."""
    invoice = _invoice(data["id"])
    if invoice.status != "draft":
        raise errors.invalid("This invoice is already finalized.")
    invoice.finalize()
    return invoice


@routing.api("POST", "/v1/invoices/{id}/pay")
def pay(data: Params) -> Invoice:
    """Pay now with the given or the default payment method; a decline is a card_error."""
    invoice = _invoice(data["id"])
    if invoice.status == "draft":
        invoice.finalize()
    _open(invoice)
    customer = Customer._api_retrieve(invoice.customer)
    method = (
        data.get("payment_method")
        or invoice.default_payment_method
        or (customer.invoice_settings or {}).get("default_payment_method")
    )
    sub = store.get(f"subscription:{invoice.subscription}")
    method = method or (sub.default_payment_method if sub else None)
    if not method:
        raise errors.invalid("There is no default payment method for this customer.")
    invoice.pay(payment_methods.retrieve(str(method)).id, off_session=True, raise_errors=True)
    return invoice


@routing.api("POST", "/v1/invoices/{id}/void")
def void(data: Params) -> Invoice:
    """open -> void."""
    invoice = _invoice(data["id"])
    _open(invoice)
    invoice.void()
    return invoice


@routing.api("GET", "/v1/invoices/{id}/lines")
def lines(data: Params) -> dict[str, Any]:
    """The invoice's lines."""
    return _invoice(data["id"]).lines


@routing.api("GET", "/v1/invoices")
def list_all(data: Params) -> pagination.Page:
    """Invoices newest first, by customer, subscription or status."""
    reject_unknown(
        data, (*pagination.PAGE_PARAMS, "customer", "subscription", "status", "collection_method")
    )
    items = [i for i in pagination.stored("invoice") if isinstance(i, Invoice)]
    for name in ("customer", "subscription", "status", "collection_method"):
        if data.get(name):
            items = [i for i in items if getattr(i, name) == data[name]]
    return pagination.page("/v1/invoices", items, data)


@routing.api("POST", "/v1/invoiceitems")
def create_item(data: Params) -> InvoiceItem:
    """A one-off charge for the next (or a given draft) invoice, by amount or price."""
    reject_unknown(data, _ITEM)
    price = prices.retrieve(str(data["price"])) if data.get("price") else None
    quantity = as_int(data.get("quantity", 1), "quantity")
    amount = price.unit_amount * quantity if price else as_int(required(data, "amount"), "amount")
    ii = InvoiceItem(
        customer=str(required(data, "customer")),
        amount=amount,
        currency=(price.currency if price else str(required(data, "currency"))),
        invoice=data.get("invoice") or None,
        description=data.get("description"),
        metadata=metadata(data.get("metadata")),
        subscription=data.get("subscription") or None,
    )
    ii.quantity = quantity
    ii._price = price.id if price else None
    events.emit("invoiceitem.created", ii)
    return ii


def _item_parent(item: InvoiceItem) -> dict[str, Any] | None:
    if not item.subscription:
        return None
    return {
        "type": "subscription_details",
        "subscription_details": {"subscription": item.subscription},
    }


def _item_pricing(item: InvoiceItem) -> dict[str, Any]:
    price = store.get(f"price:{getattr(item, '_price', None)}")
    details = {"price": price.id, "product": price.product} if price else None
    return {
        "type": "price_details",
        "price_details": details,
        "unit_amount_decimal": str(item.amount // max(1, item.quantity)),
    }


def install() -> None:
    """Give localstripe's invoice items today's fields."""
    InvoiceItem.net_amount = property(lambda self: self.amount)
    InvoiceItem.quantity_decimal = property(lambda self: str(self.quantity))
    InvoiceItem.parent = property(_item_parent)
    InvoiceItem.pricing = property(_item_pricing)
