"""The sandbox's card Element (Stripe.js stand-in) in a real browser, as Stripe's Card Element.

A merchant page, served by Playwright from the sandbox's origin (as in test_browser.py),
loads `/js.stripe.com/v3/` and mounts `elements.create('card')`; it shows each `change`
event's error under the element, as Stripe's examples do. Screenshots of the element's
states go to `<pytest basetemp>/card-element-screenshots/`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import NEEDS_CHROMIUM
from tests.support.sandbox_process import Sandbox

pytestmark = NEEDS_CHROMIUM

RED = "rgb(235, 28, 38)"  # Stripe's colour for invalid text
PAGE = """<!doctype html><meta charset=utf-8>
<body style="margin: 24px; width: 560px; font-family: sans-serif">
<form id=shop style="padding: 8px"><label>Card details</label><div id=card></div>
<p id=errors role=alert></p><button>Pay</button></form>
<script src="{sandbox}/js.stripe.com/v3/"></script>
<script>
  window.seen = [];
  window.stripe = Stripe('pk_test_sandbox');
  window.card = stripe.elements().create('card', {options});
  for (const name of ['change', 'focus', 'blur', 'ready']) {{
    card.on(name, event => seen.push({{name, ...event}}));
  }}
  card.on('change', event => {{
    document.getElementById('errors').textContent = event.error ? event.error.message : '';
  }});
  document.getElementById('shop').addEventListener('submit', e => e.preventDefault());
  card.mount('#card');
</script>"""


@pytest.fixture
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "card-element-screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def open_shop(
    browser: Browser, sandbox: Sandbox, options: dict[str, Any] | None = None, now: Any = None
) -> Page:
    """The merchant page with a mounted card Element; `now` fixes the page's clock."""
    page = browser.new_page()
    if now is not None:
        page.clock.set_fixed_time(now)
    shop = f"{sandbox.url}/card-element-test-page"
    html = PAGE.format(sandbox=sandbox.url, options=json.dumps(options or {}))
    page.route(shop, lambda route: route.fulfill(body=html, content_type="text/html"))
    page.goto(shop)
    page.wait_for_function("seen.some(event => event.name === 'ready')")
    return page


@pytest.fixture
def shop(browser: Browser, sandbox: Sandbox) -> Iterator[Page]:
    page = open_shop(browser, sandbox)
    yield page
    page.close()


def field(page: Page, label: str) -> Any:
    return page.get_by_label(label, exact=True)


def last_change(page: Page) -> Any:
    """The last `change` event, as JSON has it (no `error` key when it is undefined)."""
    return page.evaluate("JSON.parse(JSON.stringify(seen.filter(e => e.name === 'change').at(-1)))")


def classes(page: Page) -> set[str]:
    """The classes of the node the element is mounted in."""
    return set(page.locator("#card").evaluate("node => [...node.classList]"))


def shoot(page: Page, path: Path) -> None:
    """The form: the element, with room for its focus ring, and the error under it."""
    page.locator("#shop").screenshot(path=path)


def fill_card(page: Page, number: str, expiry: str = "12 / 34", zip_code: str = "42424") -> None:
    field(page, "Card number").fill(number)
    field(page, "Expiration date").fill(expiry)
    field(page, "Security code").fill("1234" if number.startswith(("34", "37")) else "123")
    if zip_code:
        field(page, "ZIP").fill(zip_code)


def confirm(page: Page, secret: str | None) -> Any:
    return page.evaluate(
        "secret => stripe.confirmCardPayment(secret, {payment_method: {card,"
        " billing_details: {name: 'Card Holder'}}})",
        secret,
    )


def test_the_element_is_one_row_of_four_labelled_inputs_without_localstripe(
    shop: Page, shots: Path
) -> None:
    card = shop.locator("#card")
    assert classes(shop) == {"StripeElement", "StripeElement--empty"}
    shoot(shop, shots / "empty.png")
    inputs = {
        "Card number": ("Card number", "cc-number"),
        "Expiration date": ("MM / YY", "cc-exp"),
        "Security code": ("CVC", "cc-csc"),
        "ZIP": ("ZIP", "postal-code"),
    }
    boxes = []
    for label, (placeholder, autocomplete) in inputs.items():
        found = field(shop, label)
        expect(found).to_have_attribute("placeholder", placeholder)
        expect(found).to_have_attribute("autocomplete", autocomplete)
        expect(found).to_have_attribute("inputmode", "numeric")
        boxes.append(found.bounding_box())
    tops, bottoms = [b["y"] for b in boxes], [b["y"] + b["height"] for b in boxes]
    assert max(tops) < min(bottoms), boxes  # one y-range: a single row
    assert [b["x"] for b in boxes] == sorted(b["x"] for b in boxes)
    assert shop.locator("input").count() == 4
    expect(shop.get_by_text(re.compile("localstripe", re.IGNORECASE))).to_have_count(0)
    markup = card.evaluate("node => node.innerHTML + node.firstChild.shadowRoot.innerHTML")
    assert "localstripe" not in markup.lower()

    field(shop, "Card number").click()
    assert classes(shop) == {"StripeElement", "StripeElement--empty", "StripeElement--focus"}
    assert [e["name"] for e in shop.evaluate("seen")] == ["ready", "focus"]
    shoot(shop, shots / "focused.png")


def test_the_number_is_spaced_as_typed_with_the_brand_icon(shop: Page) -> None:
    number = field(shop, "Card number")
    number.press_sequentially("42424242")
    expect(number).to_have_value("4242 4242")
    expect(shop.locator("[data-brand]")).to_have_attribute("data-brand", "visa")
    number.press_sequentially("42424242")
    expect(number).to_have_value("4242 4242 4242 4242")
    assert last_change(shop)["brand"] == "visa"
    expect(field(shop, "Expiration date")).to_be_focused()  # on to the next field

    number.fill("")
    number.press_sequentially("378282246310005")
    expect(number).to_have_value("3782 822463 10005")
    expect(shop.locator("[data-brand]")).to_have_attribute("data-brand", "amex")
    expect(field(shop, "Security code")).to_have_attribute("maxlength", "4")
    number.fill("5555555555554444")
    expect(shop.locator("[data-brand]")).to_have_attribute("data-brand", "mastercard")
    expect(field(shop, "Security code")).to_have_attribute("maxlength", "3")


def test_the_expiry_gets_its_separator_and_says_when_incomplete(shop: Page, shots: Path) -> None:
    field(shop, "Card number").fill("4242424242424242")
    expiry = field(shop, "Expiration date")
    expiry.press_sequentially("12")
    expect(expiry).to_have_value("12 / ")
    expiry.press_sequentially("/3")
    expect(expiry).to_have_value("12 / 3")
    expect(shop.locator("#errors")).to_have_text("")  # not while typing
    shop.keyboard.press("Tab")
    expect(field(shop, "Security code")).to_be_focused()
    message = "Your card's expiration date is incomplete."
    expect(shop.locator("#errors")).to_have_text(message)
    error = last_change(shop)["error"]
    assert error == {"type": "validation_error", "code": "incomplete_expiry", "message": message}
    assert "StripeElement--invalid" in classes(shop)
    expect(expiry).to_have_attribute("aria-invalid", "true")
    expect(expiry).to_have_css("color", RED)
    shoot(shop, shots / "invalid.png")

    expiry.press("End")  # Playwright types from the start of a field it focuses
    expiry.press_sequentially("4")
    expect(expiry).to_have_value("12 / 34")
    expect(shop.locator("#errors")).to_have_text("")
    assert "StripeElement--invalid" not in classes(shop)
    expiry.fill("")
    expiry.press_sequentially("4")
    expect(expiry).to_have_value("04 / ")  # April: no other month starts with a 4


@pytest.mark.parametrize(
    ("typed", "code", "message"),
    [
        ("03 / 31", "invalid_expiry_month_past", "Your card's expiration date is in the past."),
        ("12 / 30", "invalid_expiry_year_past", "Your card's expiration year is in the past."),
        ("05 / 99", "invalid_expiry_year", "Your card's expiration year is invalid."),
    ],
)
def test_an_expiry_in_the_past_or_far_future_is_refused_at_once(
    browser: Browser, sandbox: Sandbox, typed: str, code: str, message: str
) -> None:
    page = open_shop(browser, sandbox, now=datetime(2031, 6, 15, 12))
    fill_card(page, "4242424242424242", expiry=typed, zip_code="")
    expect(page.locator("#errors")).to_have_text(message)
    assert last_change(page)["error"]["code"] == code
    field(page, "Expiration date").fill("06 / 31")  # this month is still good
    expect(page.locator("#errors")).to_have_text("")
    page.close()


def test_a_number_failing_the_luhn_check_is_invalid(shop: Page) -> None:
    field(shop, "Card number").press_sequentially("4242424242424241")
    message = "Your card number is invalid."
    expect(shop.locator("#errors")).to_have_text(message)
    assert last_change(shop)["error"]["code"] == "invalid_number"
    expect(field(shop, "Card number")).to_be_focused()  # stays, to be corrected
    expect(shop.locator("[data-icon]")).to_have_attribute("data-icon", "error")

    field(shop, "Card number").fill("4242")
    field(shop, "Security code").fill("12")
    expect(shop.locator("#errors")).to_have_text("Your card number is incomplete.")
    field(shop, "Card number").fill("4242424242424242")
    field(shop, "Expiration date").fill("1234")
    field(shop, "ZIP").fill("123")
    expect(shop.locator("#errors")).to_have_text("Your card's security code is incomplete.")
    field(shop, "Security code").fill("123")
    field(shop, "ZIP").blur()
    expect(shop.locator("#errors")).to_have_text("Your postal code is incomplete.")


def test_change_events_say_complete_once_every_field_is(shop: Page, shots: Path) -> None:
    fill_card(shop, "4242424242424242", zip_code="")
    assert last_change(shop)["complete"] is False
    field(shop, "ZIP").fill("94107")
    change = last_change(shop)
    assert change == {
        "name": "change",
        "elementType": "card",
        "empty": False,
        "complete": True,
        "brand": "visa",
        "value": {"postalCode": "94107"},
    }
    assert classes(shop) == {"StripeElement", "StripeElement--complete", "StripeElement--focus"}
    field(shop, "ZIP").blur()
    assert shop.evaluate("seen.at(-1).name") == "blur"
    shoot(shop, shots / "complete.png")

    shop.evaluate("card.clear()")
    assert last_change(shop)["empty"] is True
    expect(field(shop, "Card number")).to_have_value("")


def test_an_incomplete_card_is_refused_without_a_request(shop: Page, sandbox: Sandbox) -> None:
    requests: list[str] = []
    shop.on("request", lambda request: requests.append(request.url))
    field(shop, "Card number").fill("4242")
    refused = {
        "type": "validation_error",
        "code": "incomplete_number",
        "message": "Your card number is incomplete.",
    }
    assert confirm(shop, "pi_123_secret_abc") == {"error": refused}
    made = shop.evaluate("stripe.createPaymentMethod({type: 'card', card})")
    assert made == {"error": refused}
    expect(shop.locator("#errors")).to_have_text(refused["message"])  # shown in the element

    field(shop, "Card number").fill("4242424242424242")
    made = shop.evaluate("stripe.createPaymentMethod('card', card)")
    assert made["error"]["code"] == "incomplete_expiry"
    assert requests == []


def test_a_complete_card_pays_a_sandbox_payment_intent(shop: Page, sandbox: Sandbox) -> None:
    intent = sandbox.client.v1.payment_intents.create(params={"amount": 1500, "currency": "usd"})
    fill_card(shop, "4242424242424242", zip_code="94107")
    outcome = confirm(shop, intent.client_secret)
    assert outcome["paymentIntent"]["status"] == "succeeded"
    method = sandbox.client.v1.payment_methods.retrieve(outcome["paymentIntent"]["payment_method"])
    card, address = method.card, method.billing_details.address
    assert card is not None
    assert address is not None
    assert (card.last4, card.exp_month, card.exp_year) == ("4242", 12, 2034)
    assert address.postal_code == "94107"  # the element's ZIP, as Stripe.js hands it over
    assert method.billing_details.name == "Card Holder"


def test_options_hide_the_postal_code_and_style_the_text(
    browser: Browser, sandbox: Sandbox
) -> None:
    style = {"base": {"fontSize": "20px", "color": "#1f2937"}, "invalid": {"color": "#b91c1c"}}
    page = open_shop(browser, sandbox, {"hidePostalCode": True, "style": style})
    expect(field(page, "ZIP")).to_be_hidden()
    number = field(page, "Card number")
    expect(number).to_have_css("font-size", "20px")
    expect(number).to_have_css("color", "rgb(31, 41, 55)")
    number.fill("4242424242424241")
    expect(number).to_have_css("color", "rgb(185, 28, 28)")
    fill_card(page, "4242424242424242", zip_code="")
    assert last_change(page)["complete"] is True

    page.evaluate("card.update({hidePostalCode: false})")
    expect(field(page, "ZIP")).to_be_visible()
    page.evaluate("card.unmount(); card.mount('#card')")  # the values stay
    expect(field(page, "Card number")).to_have_value("4242 4242 4242 4242")
    page.evaluate("card.destroy(); window.card = stripe.elements().create('card')")
    expect(page.locator("#card")).not_to_have_class(re.compile("StripeElement"))
    page.close()
