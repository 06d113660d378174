"""Billing portal sessions: a page where the customer manages subscriptions and card."""

from __future__ import annotations

from html import escape
from typing import Any

from aiohttp import web
from localstripe.resources import Customer, Product, StripeObject, store

from . import context, errors, events, pagination, payment_methods, periods, routing
from .errors import StripeError
from .pages import card_fields, money, page
from .params import Params, reject_unknown, required
from .subscription_api import change
from .subscriptions import Subscription


class PortalSession(StripeObject):
    """A Stripe billing portal session."""

    object = "billing_portal.session"
    _id_prefix = "bps_"

    def __init__(self, customer: str, return_url: str | None) -> None:
        super().__init__()
        self.configuration = "bpc_sandbox_default"
        self.customer = customer
        self.customer_account = None
        self.flow = None
        self.locale = None
        self.on_behalf_of = None
        self.return_url = return_url
        self.url = f"{context.base_url()}/p/session/{self.id}"


@routing.api("POST", "/v1/billing_portal/sessions")
def create(data: Params) -> PortalSession:
    """A portal session for customer; its url is the portal page."""
    reject_unknown(
        data, ("customer", "return_url", "configuration", "locale", "flow_data", "on_behalf_of")
    )
    customer = Customer._api_retrieve(str(required(data, "customer")))
    return PortalSession(customer.id, data.get("return_url"))


def _session(id: str) -> PortalSession:
    session = store.get("billing_portal.session:" + id)
    if session is None:
        raise errors.no_such("billing portal session", id)
    return session


def _subscriptions(customer: str) -> list[Subscription]:
    return [
        s
        for s in pagination.stored("subscription")
        if isinstance(s, Subscription)
        and s.customer == customer
        and s.status not in ("canceled", "incomplete_expired")
    ]


def _describe(sub: Subscription, home: str) -> str:
    names = ", ".join(escape(Product._api_retrieve(i.price.product).name) for i in sub.item_list())
    amount = money(sum(i.amount() for i in sub.item_list()), sub.currency)
    when = periods.day(sub.current_period_end)
    state = f"Cancels {when}" if sub.cancel_at_period_end else f"Renews {when}"
    verb, label = (
        ("resume", "Renew subscription")
        if sub.cancel_at_period_end
        else ("cancel", "Cancel subscription")
    )
    return (
        f"<section class=subscription data-id={sub.id}><h3>{names}</h3>"
        f"<p>{amount} / {sub.recurring()['interval']} &middot; {sub.status}"
        f" &middot; {state}</p><form method=post action='{home}/subscriptions/{sub.id}/{verb}'>"
        f"<button type=submit class='secondary {verb}'>{label}</button></form></section>"
    )


def _card(customer: Any) -> str:
    default = (customer.invoice_settings or {}).get("default_payment_method")
    pm = store.get(f"payment_method:{default}")
    return f"Card ending {pm.card['last4']}" if pm is not None else "No card on file"


def _render(session: PortalSession, error: str = "") -> web.Response:
    customer = Customer._api_retrieve(session.customer)
    back = (
        f"<a class='button secondary' id=return href='{escape(session.return_url)}'>Return</a>"
        if session.return_url
        else ""
    )
    home = _home(session)
    subs = "".join(_describe(s, home) for s in _subscriptions(customer.id)) or "<p>No plans.</p>"
    body = (
        f"<h1>Billing</h1><h2>Subscriptions</h2>{subs}<h2>Payment method</h2>"
        f"<p id=card>{_card(customer)}</p><form method=post action='{home}/payment_method'>"
        f"{card_fields()}<button type=submit id=update-card>Update card</button>"
        f"<div id=error class=error role=alert>{escape(error)}</div></form>{back}"
    )
    return page("Billing portal", body, status=402 if error else 200)


def _home(session: PortalSession) -> str:
    """The page's own address, as `url` gives it; its forms post below it."""
    return f"/p/session/{session.id}"


def _redirect(session: PortalSession) -> web.Response:
    """Back to the page after a change (post, redirect, get)."""
    raise web.HTTPSeeOther(_home(session))


@routing.page("GET", "/p/session/{id}")
async def show(_: web.Request, path: dict[str, str]) -> web.Response:
    """Subscriptions, card, and the way back, at the address `url` gives, as Stripe's."""
    return _render(_session(path["id"]))


@routing.page("POST", "/p/session/{id}/subscriptions/{sub}/{verb}")
async def toggle(_: web.Request, path: dict[str, str]) -> web.Response:
    """Cancel at period end, or take that back."""
    session = _session(path["id"])
    sub = store.get(f"subscription:{path['sub']}")
    if sub is None or sub.customer != session.customer or path["verb"] not in ("cancel", "resume"):
        raise errors.no_such("subscription", path["sub"])
    ending = path["verb"] == "cancel"
    change(
        sub,
        {
            "cancel_at_period_end": ending,
            "cancellation_details": {"reason": "cancellation_requested" if ending else None},
        },
    )
    return _redirect(session)


@routing.page("POST", "/p/session/{id}/payment_method")
async def update_card(request: web.Request, path: dict[str, str]) -> web.Response:
    """Make the typed card the default for the customer and its subscriptions."""
    session = _session(path["id"])
    form = await request.post()
    month, _, year = str(form.get("cardExpiry", "")).partition("/")
    try:
        pm = payment_methods.create_card(
            {
                "number": form.get("cardNumber", ""),
                "exp_month": month.strip(),
                "exp_year": year.strip(),
                "cvc": form.get("cardCvc", ""),
            }
        )
    except StripeError as error:
        return _render(session, error.body["error"]["message"])
    pm.customer = session.customer
    events.emit("payment_method.attached", pm)
    Customer._api_update(session.customer, invoice_settings={"default_payment_method": pm.id})
    for sub in _subscriptions(session.customer):
        change(sub, {"default_payment_method": pm.id})
    return _redirect(session)
