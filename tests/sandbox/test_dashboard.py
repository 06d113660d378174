"""The sandbox's /dashboard in a real browser (Debian's Chromium via Playwright): advance a
test clock, resend an event, dispute a charge; and, without a browser, that its forms refuse
other sites and that it escapes what objects hold.

Screenshots go to $DASHBOARD_SCREENSHOTS, else to a pytest temporary folder; their paths are
printed (`pytest -s` shows them)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from playwright.sync_api import Page, expect

from tests.support.browser import NEEDS_CHROMIUM
from tests.support.sandbox import customer_with_card, receiver, recurring_price, wait_for
from tests.support.sandbox_process import Sandbox

DAY = 86400


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go."""
    chosen = os.environ.get("DASHBOARD_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("dashboard-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _shoot(page: Page, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def _row(page: Page, *texts: str) -> Any:
    """The table row holding all texts."""
    row = page.locator("tr")
    for text in texts:
        row = row.filter(has_text=text)
    return row


def _clocked(client: stripe.StripeClient) -> tuple[Any, Any]:
    clock = client.v1.test_helpers.test_clocks.create(
        params={"frozen_time": int(time.time()), "name": "dashboard"}
    )
    customer = customer_with_card(client, test_clock=clock.id, name="Clocked Customer")
    sub = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": recurring_price(client, 2000).id}]}
    )
    return clock, sub


@NEEDS_CHROMIUM
def test_advancing_a_clock_from_the_dashboard_renews_the_subscription(
    browser: Any, make_sandbox: Callable[..., Sandbox], shots: Path
) -> None:
    sandbox = make_sandbox()
    clock, sub = _clocked(sandbox.client)
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(f"{sandbox.url}/dashboard")
    expect(page.locator(".cards a", has_text="Subscriptions")).to_contain_text("1")
    _shoot(page, shots, "home")

    page.click("nav >> text=Subscriptions")
    expect(_row(page, sub.id, clock.id)).to_contain_text("frozen at")
    _shoot(page, shots, "subscriptions")
    _row(page, sub.id).locator(f"a:text-is('{clock.id}')").click()
    page.wait_for_url(f"**/dashboard/test_clocks/{clock.id}")

    target = sub.current_period_end + DAY
    page.fill("#frozen_time", datetime.fromtimestamp(target, UTC).strftime("%Y-%m-%dT%H:%M"))
    page.click("button:text('Advance')")
    expect(page.locator(".flash")).to_contain_text(f"Advanced {clock.id}")
    expect(page.locator("#frozen")).to_have_text(
        datetime.fromtimestamp(target // 60 * 60, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    )
    _shoot(page, shots, "clock-after-advance")

    page.locator(f"a:text-is('{sub.id}')").first.click()
    page.wait_for_url(f"**/dashboard/subscriptions/{sub.id}")
    renewal = _row(page, "subscription_cycle", "paid")
    expect(renewal).to_have_count(1)
    invoice = sandbox.client.v1.subscriptions.retrieve(sub.id).latest_invoice
    expect(renewal).to_contain_text(str(invoice))
    page.close()


@NEEDS_CHROMIUM
def test_an_event_page_shows_its_deliveries_and_resends_it(
    browser: Any, make_sandbox: Callable[..., Sandbox], shots: Path
) -> None:
    sandbox = make_sandbox()
    client = sandbox.client
    with receiver() as hook:
        client.v1.webhook_endpoints.create(
            params={"url": hook.url, "enabled_events": ["customer.created"]}
        )
        customer = client.v1.customers.create(params={"email": "resend@example.com"})
        wait_for(lambda: hook.about(customer.id))
        [event] = client.v1.events.list(params={"type": "customer.created"}).data
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(f"{sandbox.url}/dashboard/events")
        page.locator(f"a:text-is('{event.id}')").click()
        deliveries = page.locator("#deliveries tbody tr")
        expect(deliveries).to_have_count(1)
        expect(deliveries.first).to_contain_text("HTTP 200")
        expect(deliveries.first).to_contain_text(hook.url)

        page.click("button:text('Resend')")
        expect(page.locator(".flash")).to_contain_text(f"Resending {event.id}")
        wait_for(lambda: len(hook.about(customer.id)) == 2)
        page.reload()
        expect(deliveries).to_have_count(2)
        expect(deliveries.nth(1)).to_contain_text("HTTP 200")
        expect(deliveries.nth(1).locator("td").nth(2)).to_have_text("2")
        _shoot(page, shots, "event-after-resend")
        page.close()
    assert [d.event["id"] for d in hook.about(customer.id)] == [event.id, event.id]


@NEEDS_CHROMIUM
def test_a_dispute_created_from_the_charge_page(
    browser: Any, make_sandbox: Callable[..., Sandbox], shots: Path
) -> None:
    sandbox = make_sandbox()
    intent = sandbox.client.v1.payment_intents.create(
        params={
            "amount": 1500,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    charge = str(intent.latest_charge)
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(f"{sandbox.url}/dashboard/payment_intents/{intent.id}")
    page.locator(f"a:text-is('{charge}')").first.click()
    page.wait_for_url(f"**/dashboard/charges/{charge}")
    page.click("button:text('Create dispute')")
    expect(page.locator(".flash")).to_contain_text("Opened dispute")
    expect(page.locator("button:text('Create dispute')")).to_have_count(0)
    [dispute] = sandbox.client.v1.disputes.list(params={"charge": charge}).data

    page.click("nav >> text=Events")
    expect(_row(page, "charge.dispute.created", dispute.id)).to_have_count(1)
    page.click("nav >> text=Disputes")
    expect(_row(page, dispute.id, "needs_response", charge)).to_have_count(1)
    page.locator(f"a:text-is('{dispute.id}')").click()
    expect(page.locator("h1")).to_have_text(f"Dispute {dispute.id}")
    _shoot(page, shots, "dispute")
    page.close()


def _token(http: httpx.Client, path: str) -> str:
    found = re.search(r"name=csrf value='([^']+)'", http.get(path).text)
    assert found
    return found.group(1)


def test_posts_from_other_sites_are_refused_and_fields_escaped(sandbox: Sandbox) -> None:
    customer = sandbox.client.v1.customers.create(
        params={"name": "<script>alert('x')</script>", "email": "a&b@example.com"}
    )
    with httpx.Client(base_url=sandbox.url, timeout=10) as http:
        for path in ("/dashboard/customers", f"/dashboard/customers/{customer.id}"):
            html = http.get(path).text
            assert "<script>alert" not in html
            assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
            assert "a&amp;b@example.com" in html
        event = next(
            e
            for e in sandbox.client.v1.events.list(params={"type": "customer.created"}).data
            if e.data.object.id == customer.id
        )
        url = f"/dashboard/events/{event.id}/resend"
        token = _token(http, f"/dashboard/events/{event.id}")
        refused = [
            http.post(url, data={"csrf": token}, headers={"Origin": "http://evil.example"}),
            http.post(url, data={"csrf": token}, headers={"Sec-Fetch-Site": "cross-site"}),
            http.post(url, data={"csrf": "forged"}),
            http.post(url, data={}),
        ]
        assert [reply.status_code for reply in refused] == [403, 403, 403, 403]
        own = http.post(
            url,
            data={"csrf": token},
            headers={"Origin": sandbox.url, "Sec-Fetch-Site": "same-origin"},
        )
        assert own.status_code == 303
        assert own.headers["Location"] == f"/dashboard/events/{event.id}"
