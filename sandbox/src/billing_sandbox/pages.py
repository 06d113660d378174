"""HTML for the hosted pages (Checkout, customer portal): one layout, plain forms."""

from __future__ import annotations

from html import escape

from aiohttp import web

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f6f9fc;color:#30313d;margin:0}
main{max-width:460px;margin:40px auto;background:#fff;padding:28px;border-radius:8px;
box-shadow:0 2px 8px rgba(0,0,0,.08)}
label{display:block;margin:12px 0 4px;font-size:14px}
input{width:100%;box-sizing:border-box;padding:10px;border:1px solid #ccc;border-radius:6px}
.row{display:flex;gap:8px}.row>div{flex:1}
button,.button{margin-top:16px;padding:12px;width:100%;box-sizing:border-box;border:0;
border-radius:6px;
background:#635bff;color:#fff;font-size:16px;cursor:pointer;text-align:center;
text-decoration:none;display:block}
.secondary{background:#e3e8ee;color:#30313d}
.error{color:#df1b41;margin-top:12px;min-height:1em}
table{width:100%;border-collapse:collapse}td{padding:6px 0}td:last-child{text-align:right}
.modal{position:fixed;inset:0;background:rgba(0,0,0,.4);display:flex;align-items:center;
justify-content:center}.modal>div{background:#fff;padding:24px;border-radius:8px;width:320px}
"""


def money(amount: int, currency: str) -> str:
    """`$20.00`, `20.00 EUR`."""
    value = f"{amount / 100:,.2f}"
    return f"${value}" if currency == "usd" else f"{value} {currency.upper()}"


def page(title: str, body: str, status: int = 200, *, style: str = "") -> web.Response:
    """A complete HTML page; `style` adds rules after the hosted pages' (a wider layout)."""
    html = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}"
        f"</title><meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<style>{_STYLE}{style}</style></head><body><main>{body}</main></body></html>"
    )
    return web.Response(text=html, content_type="text/html", status=status)


def card_fields(prefix: str = "") -> str:
    """The card inputs real Checkout has: cardNumber, cardExpiry, cardCvc."""
    return (
        f"<label for={prefix}cardNumber>Card information</label>"
        f"<input id={prefix}cardNumber name=cardNumber inputmode=numeric"
        " autocomplete=cc-number placeholder='1234 1234 1234 1234' required>"
        "<div class=row><div>"
        f"<input id={prefix}cardExpiry name=cardExpiry autocomplete=cc-exp"
        " placeholder='MM / YY' required></div><div>"
        f"<input id={prefix}cardCvc name=cardCvc autocomplete=cc-csc placeholder=CVC"
        " required></div></div>"
    )


# Reads the card inputs into Stripe's card hash; shared by the Checkout and portal pages.
CARD_SCRIPT = """
function readCard(form){
  const [month, year] = form.cardExpiry.value.split('/').map(s => s.trim());
  return {number: form.cardNumber.value.replace(/\\s+/g, ''), exp_month: month,
          exp_year: year, cvc: form.cardCvc.value.trim()};
}
function challenge(){
  return new Promise(resolve => {
    const box = document.createElement('div');
    box.className = 'modal';
    box.innerHTML = '<div><h3>3D Secure test payment</h3><p>Authenticate this payment?</p>' +
      '<button id=authorize>Complete authentication</button>' +
      '<button id=fail class=secondary>Fail authentication</button></div>';
    document.body.appendChild(box);
    box.querySelector('#authorize').onclick = () => { box.remove(); resolve(true); };
    box.querySelector('#fail').onclick = () => { box.remove(); resolve(false); };
  });
}
"""
