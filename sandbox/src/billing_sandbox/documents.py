"""What Stripe hosts for a customer to keep: the invoice page at an invoice's
`hosted_invoice_url` (from its finalization) and the receipt at a charge's `receipt_url`."""

from __future__ import annotations

import time
from collections.abc import Callable
from html import escape
from typing import Any

from aiohttp import web
from localstripe.resources import Charge, store

from . import context, invoices, routing
from .pages import money, page


def _when(moment: int | None) -> str:
    return time.strftime("%d %b %Y", time.gmtime(moment)) if moment else ""


def _rows(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td>{escape(label)}</td><td>{value}</td></tr>" for label, value in rows)
    return f"<table>{cells}</table>"


@routing.page("GET", "/i/{id}")
async def invoice_page(_: web.Request, path: dict[str, str]) -> web.Response:
    """An invoice as its customer sees it: number, lines, total, and whether it is paid."""
    invoice = store.get(f"invoice:{path['id']}")
    if invoice is None or invoice.status == "draft":
        return page("Invoice", "<h1>No such invoice.</h1>", status=404)
    lines = [
        (str(line.get("description") or "Item"), money(line["amount"], invoice.currency))
        for line in invoice.lines["data"]
    ]
    status = "Paid" if invoice.status == "paid" else invoice.status.capitalize()
    body = (
        f"<h1>Invoice {escape(invoice.number or invoice.id)}</h1>"
        f"<p>{escape(status)} &middot; {_when(invoice.effective_at)}</p>"
        + _rows(
            [
                *lines,
                ("Total", f"<b>{money(invoice.total, invoice.currency)}</b>"),
                ("Amount paid", money(invoice.amount_paid, invoice.currency)),
            ]
        )
    )
    return page("Invoice", body)


@routing.page("GET", "/receipts/{id}")
async def receipt_page(_: web.Request, path: dict[str, str]) -> web.Response:
    """A receipt for a succeeded charge."""
    charge = store.get(f"charge:{path['id']}")
    if charge is None or charge.status != "succeeded":
        return page("Receipt", "<h1>No such receipt.</h1>", status=404)
    details = charge.payment_method_details or {}
    kind = str(details.get("type", ""))
    method = details.get(kind, {})
    paid_with = escape(f"{method.get('brand') or kind} •••• {method.get('last4', '')}")
    body = f"<h1>Receipt</h1><p>{_when(charge.created)}</p>" + _rows(
        [
            ("Amount paid", f"<b>{money(charge.amount, charge.currency)}</b>"),
            ("Paid with", paid_with),
            ("Refunded", money(charge.amount_refunded, charge.currency)),
        ]
    )
    return page("Receipt", body)


def _with_receipt(init: Callable[..., None]) -> Callable[..., None]:
    def charge_init(self: Charge, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.receipt_url = f"{context.base_url()}/receipts/{self.id}"

    return charge_init


def _finalize_hosted(finalize: Callable[[Any], None]) -> Callable[[Any], None]:
    def finalized(self: Any) -> None:
        self.hosted_invoice_url = f"{context.base_url()}/i/{self.id}"
        finalize(self)

    return finalized


def install() -> None:
    """Charges get their receipt, finalized invoices their hosted page, as on Stripe."""
    Charge.__init__ = _with_receipt(Charge.__init__)
    invoices.Invoice.finalize = _finalize_hosted(invoices.Invoice.finalize)
