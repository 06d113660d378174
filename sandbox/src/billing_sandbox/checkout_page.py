"""The hosted Checkout page at a session's `url`, and the calls it makes."""

from __future__ import annotations

import json
from html import escape

from aiohttp import web

from . import checkout, checkout_flow, routing
from .pages import CARD_SCRIPT, card_fields, money, page

_SCRIPT = (
    CARD_SCRIPT
    + """
const form = document.getElementById('payment-form');
const error = document.getElementById('error');
async function post(path, body){
  const reply = await fetch(location.pathname + path, {method: 'POST',
    headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  return reply.json();
}
async function settle(outcome){
  if (outcome.requires_action) {
    return settle(await post('/authenticate', {success: await challenge()}));
  }
  if (outcome.redirect) { window.location.assign(outcome.redirect); return; }
  error.textContent = outcome.error.message;
  form.querySelector('button').disabled = false;
}
form.addEventListener('submit', async event => {
  event.preventDefault();
  error.textContent = '';
  form.querySelector('button').disabled = true;
  await settle(await post('/confirm', {email: form.email.value,
    name: form.billingName.value, card: readCard(form)}));
});
"""
)


def _summary(session: checkout.CheckoutSession) -> str:
    rows = "".join(
        f"<tr><td>{escape(item.description)} &times; {item.quantity}</td>"
        f"<td>{money(item.amount_total, item.currency)}</td></tr>"
        for item in session.item_list()
    )
    total = money(session.amount_total, session.currency)
    return f"<table>{rows}<tr><td><b>Total</b></td><td><b>{total}</b></td></tr></table>"


def _form(session: checkout.CheckoutSession) -> str:
    action = "Subscribe" if session.mode == "subscription" else "Pay"
    email = escape(session.customer_email or "")
    cancel = (
        f"<a class='button secondary' href='{escape(session.cancel_url)}'>Back</a>"
        if session.cancel_url
        else ""
    )
    return (
        f"<h1>Billing Sandbox</h1>{_summary(session)}<form id=payment-form novalidate>"
        f"<label for=email>Email</label><input id=email name=email type=email"
        f" autocomplete=email value='{email}' required>{card_fields()}"
        "<label for=billingName>Name on card</label><input id=billingName name=billingName"
        " autocomplete=cc-name required>"
        f"<button type=submit class=SubmitButton data-testid=hosted-payment-submit-button>"
        f"{action}</button><div id=error class=error role=alert></div></form>{cancel}"
        f"<script>{_SCRIPT}</script>"
    )


@routing.page("GET", "/c/pay/{id}")
async def show(_: web.Request, path: dict[str, str]) -> web.Response:
    """The payment page, or a note that the session is over."""
    session = checkout.retrieve(path["id"])
    if session.status != "open":
        return page("Checkout", f"<h1>This Checkout Session is {session.status}.</h1>")
    return page("Checkout", _form(session))


@routing.page("POST", "/c/pay/{id}/confirm")
async def confirm(request: web.Request, path: dict[str, str]) -> web.Response:
    """Pay with the typed card."""
    session = checkout.retrieve(path["id"])
    outcome = checkout_flow.complete(session, await request.json())
    return web.json_response(outcome)


@routing.page("POST", "/c/pay/{id}/authenticate")
async def authenticate(request: web.Request, path: dict[str, str]) -> web.Response:
    """The 3D Secure challenge's answer."""
    session = checkout.retrieve(path["id"])
    success = bool(json.loads(await request.text() or "{}").get("success"))
    return web.json_response(checkout_flow.authenticate(session, success))
