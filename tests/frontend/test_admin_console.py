"""The admin console in a real browser (Debian's Chromium via Playwright) against
`billing demo`: the webhook inbox, an event's payload (personal values masked) and its
replay, outbound endpoints with their secret shown
once and a delivery retried, the audit log and its chain, each page checked by axe-core
(no serious or critical violation) and shown at desktop and phone widths.

Screenshots go to `<pytest basetemp>/frontend-screenshots/<test>/`; each path is printed.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from billing.outbound.signatures import verify
from tests.frontend.test_browser import Api
from tests.runtime.test_demo import Demo
from tests.support.axe import NEEDS_AXE, assert_accessible
from tests.support.browser import NEEDS_CHROMIUM
from tests.support.http_receiver import Receiver, http_receiver
from tests.support.sandbox import wait_for
from tests.support.screens import NEEDS_FRONTEND_BUILD, at_both_widths, shot, sign_in_as_admin
from tests.support.stripe_events import sign

SETTLE_S = 20  # the demo's worker processes an event or sends a delivery within a second or two
MASK = "[personal data]"  # what the inbox shows of a personal value
CONTACT = "dispute.contact@example.com"  # a personal value in the failing event

pytestmark = [NEEDS_CHROMIUM, NEEDS_AXE, NEEDS_FRONTEND_BUILD]


@pytest.fixture(scope="module")
def admin(demo: Demo) -> Api:
    return Api(demo, 1, "admin")


def open_section(page: Page, name: str, heading: str) -> None:
    page.get_by_role("navigation", name="Admin").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_focused()


def post_failing_event(demo: Demo, home: Path) -> str:
    """A Stripe event, signed with the demo's own endpoint secret, that its handler cannot
    process (a dispute event without its object): it fails, and is retried with backoff.
    What changed on the dispute names a person (`CONTACT`): the inbox keeps it encrypted,
    and shows it masked."""
    secret = json.loads((home / "data" / "demo-webhook.json").read_text())["secret"]
    event_id = f"evt_admin_{uuid.uuid4().hex[:16]}"
    event = {
        "id": event_id,
        "object": "event",
        "type": "charge.dispute.created",
        "created": int(time.time()),
        "livemode": False,
        "api_version": "2025-03-31.basil",
        "data": {"previous_attributes": {"evidence": {"customer_email_address": CONTACT}}},
    }
    payload = json.dumps(event).encode()
    answer = httpx.post(
        f"{demo.base}/api/stripe/webhook",
        content=payload,
        headers={"Stripe-Signature": sign(payload, secret), "Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    return event_id


def inbox_event(admin: Api, event_id: str) -> dict[str, Any] | None:
    events = admin.get("/api/admin/webhooks", limit="100")["data"]
    return next((event for event in events if event["id"] == event_id), None)


def test_replaying_a_failed_event(
    page: Page, demo: Demo, home: Path, admin: Api, shots: Path
) -> None:
    event_id = post_failing_event(demo, home)
    failed = wait_for(
        lambda: (e := inbox_event(admin, event_id)) and e["status"] == "failed" and e, SETTLE_S
    )
    assert "carries no object" in failed["last_error"]

    sign_in_as_admin(page, demo)
    open_section(page, "Webhooks", "Webhook inbox")
    expect(page.get_by_label("Status")).to_have_value("failed")  # what needs a person first
    row = page.locator(f'tr[data-event-id="{event_id}"]')
    expect(row).to_contain_text("Failed")
    assert_accessible(page, "the webhook inbox")
    at_both_widths(page, shots, "webhooks")

    row.get_by_role("button", name=f"Details of {event_id}").click()
    detail = page.get_by_test_id("event-detail")
    expect(detail.get_by_role("heading", level=2)).to_be_focused()
    expect(detail.get_by_test_id("event-error")).to_contain_text("carries no object")
    expect(detail.get_by_test_id("event-status")).to_have_text("Failed")

    payload = detail.get_by_test_id("event-payload")
    payload.locator("summary").focus()
    page.keyboard.press("Enter")  # a native <details>: the keyboard opens it
    shown = payload.get_by_test_id("payload-json")
    expect(shown).to_contain_text(f'"id": "{event_id}"')
    expect(shown).to_contain_text('"type": "charge.dispute.created"')
    expect(shown).to_contain_text(f'"customer_email_address": "{MASK}"')
    assert CONTACT not in page.content()
    assert_accessible(page, "the event's payload")
    at_both_widths(page, shots, "event-payload")
    page.keyboard.press("Enter")
    expect(shown).to_be_hidden()

    replay = detail.get_by_role("button", name="Replay event")
    replay.click()
    dialog = page.get_by_role("alertdialog", name=f"Replay {event_id}?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Replay", exact=True)).to_be_focused()
    page.keyboard.press("Tab")  # focus stays in the dialog
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    assert_accessible(page, "the replay dialog")
    shot(page, shots, "replay-dialog")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(replay).to_be_focused()

    replay.click()
    with page.expect_request(f"**/api/admin/webhooks/{event_id}/replay") as sent:
        dialog.get_by_role("button", name="Replay", exact=True).click()
    assert re.fullmatch(r"[0-9a-f]{32}", sent.value.headers["idempotency-key"])
    expect(page.get_by_test_id("replay-outcome")).to_contain_text(
        f"Replayed: {event_id} is queued again (status pending, 0 attempts so far)."
    )
    # Processed again, it fails again: the page follows it back under "failed".
    expect(detail.get_by_test_id("event-status")).to_have_text("Failed", timeout=SETTLE_S * 1000)
    expect(detail.get_by_test_id("event-attempts")).to_have_text("1")
    shot(page, shots, "replayed")
    audit = admin.get("/api/admin/audit", action="webhook.replayed", target=event_id)["data"]
    assert [entry["actor"] for entry in audit] == ["admin:1"]


def delivery_of(admin: Api, endpoint_id: int) -> dict[str, Any] | None:
    page = admin.get(f"/api/admin/webhook-endpoints/{endpoint_id}/deliveries")["data"]
    return page[0] if page else None


def test_an_endpoint_its_secret_once_and_a_delivery_retried(
    page: Page, demo: Demo, admin: Api, shots: Path
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=demo.base)
    sign_in_as_admin(page, demo)
    open_section(page, "Endpoints", "Webhook endpoints")
    with http_receiver() as receiver:
        page.get_by_label("Endpoint URL").fill(receiver.url)
        page.get_by_role("checkbox", name="credits.granted").check()
        page.get_by_role("button", name="Create endpoint").click()

        reveal = page.get_by_test_id("endpoint-secret")
        expect(reveal.get_by_role("heading", level=2)).to_be_focused()
        secret = reveal.get_by_label("Signing secret").input_value()
        assert secret.startswith("whsec_")
        reveal.get_by_role("button", name="Copy secret").click()
        expect(reveal.get_by_role("status")).to_have_text("Copied to the clipboard.")
        assert page.evaluate("navigator.clipboard.readText()") == secret
        assert_accessible(page, "the new endpoint's secret")
        shot(page, shots, "endpoint-secret")
        reveal.get_by_role("button", name="I have saved it").click()
        expect(reveal).to_be_hidden()
        page.reload()
        expect(page.get_by_test_id("endpoint-table")).to_contain_text(receiver.url)
        assert secret not in page.content()  # shown once: nothing shows it again
        listed = admin.get("/api/admin/webhook-endpoints")["data"]
        [endpoint] = [e for e in listed if e["url"] == receiver.url]
        assert "secret" not in endpoint

        caused_a_delivery(demo, admin, receiver, endpoint["id"])
        page.get_by_role("link", name=f"Deliveries to {receiver.url}").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(receiver.url)
        row = page.locator("tr[data-delivery-id]").first
        expect(row).to_contain_text("credits.granted")
        expect(row).to_contain_text("HTTP 500")
        assert_accessible(page, "the deliveries")
        at_both_widths(page, shots, "deliveries")

        receiver.healthy = True
        tries = len(receiver.received)
        row.get_by_role("button", name=re.compile(r"^Retry delivery \d+$")).click()
        expect(page.get_by_test_id("deliveries-said")).to_contain_text("queued to be sent again")
        expect(row).to_have_attribute("data-status", "delivered", timeout=SETTLE_S * 1000)
        expect(row).to_contain_text("HTTP 200")
        shot(page, shots, "delivery-retried")
        assert len(receiver.received) > tries
        assert len(set(receiver.ids())) == 1  # every attempt is the same message
        last = receiver.received[-1]
        assert last.answered == 200
        verify(secret, last.headers, last.body, int(time.time()))  # the secret shown signs

    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Endpoints").click()
    rotate = page.get_by_role("button", name=f"Rotate secret of {receiver.url}")
    rotate.click()
    page.get_by_role("alertdialog", name="Rotate the signing secret?").get_by_role(
        "button", name="Rotate secret"
    ).click()
    rotated = page.get_by_test_id("endpoint-secret").get_by_label("Signing secret")
    expect(rotated).not_to_have_value(secret)
    expect(page.get_by_test_id("endpoint-table")).to_contain_text("the old one signs too until")
    page.get_by_role("button", name="I have saved it").click()

    page.get_by_role("button", name=f"Delete {receiver.url}").click()
    dialog = page.get_by_role("alertdialog", name="Delete this endpoint?")
    assert_accessible(page, "the delete dialog")
    shot(page, shots, "delete-dialog")
    dialog.get_by_role("button", name="Delete endpoint").click()
    expect(page.get_by_test_id("endpoints-said")).to_contain_text("Deleted the endpoint")
    listed = admin.get("/api/admin/webhook-endpoints")["data"]
    assert receiver.url not in [e["url"] for e in listed]


def caused_a_delivery(demo: Demo, admin: Api, receiver: Receiver, endpoint_id: int) -> None:
    """Credits granted to a user: a `credits.granted` message, sent to the endpoint,
    answered 500 by the receiver (so it waits for its next try)."""
    grant = {"amount": 25, "reason": "admin console test", "idempotency_key": uuid.uuid4().hex}
    added = httpx.post(
        f"{demo.base}/api/financial/credits/301/add", json=grant, headers=admin.headers
    )
    assert added.status_code in (200, 201), added.text
    wait_for(lambda: receiver.received, SETTLE_S)
    wait_for(lambda: (d := delivery_of(admin, endpoint_id)) and d["attempts"] >= 1, SETTLE_S)


def test_the_audit_log_and_its_chain(page: Page, demo: Demo, admin: Api, shots: Path) -> None:
    created = httpx.post(
        f"{demo.base}/api/admin/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/audit-hooks", "events": ["topup.limit_reached"]},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    chain = wait_for(
        lambda: (c := admin.get("/api/admin/audit/chain"))["unsealed"] == 0 and c, SETTLE_S
    )
    assert chain["verified"] is True

    sign_in_as_admin(page, demo)
    open_section(page, "Audit", "Audit log")
    state = page.get_by_test_id("audit-chain")
    expect(state).to_contain_text(
        f"Sealed through seq {chain['head_seq']:,}, head hash {chain['head_hash']}, verified."
    )
    table = page.get_by_test_id("audit-table")
    expect(table.locator('tr[data-action="webhook_endpoint.created"]').first).to_contain_text(
        "admin:1"
    )
    assert_accessible(page, "the audit log")
    at_both_widths(page, shots, "audit")

    page.get_by_label("Action").fill("webhook_endpoint.created")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"action=webhook_endpoint.created"))
    # The unfiltered rows stay until the filtered page arrives: wait for them to go.
    expect(
        table.locator('tr[data-action]:not([data-action="webhook_endpoint.created"])')
    ).to_have_count(0)
    expect(table.locator('tr[data-action="webhook_endpoint.created"]').first).to_be_visible()
    page.get_by_label("Actor").fill("nobody-at-all")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_test_id("audit-empty")).to_have_text("No entries match these filters.")
    shot(page, shots, "audit-filtered-empty")

    httpx.delete(
        f"{demo.base}/api/admin/webhook-endpoints/{created.json()['id']}", headers=admin.headers
    ).raise_for_status()


ADMIN_PAGES = [
    ("Dashboard", "Admin dashboard", "admin-dashboard"),
    ("Users", None, "admin-users"),
    ("Webhooks", "Webhook inbox", "admin-webhooks"),
    ("Endpoints", "Webhook endpoints", "admin-endpoints"),
    ("Audit", "Audit log", "admin-audit"),
]


def test_every_admin_page_is_accessible_at_both_widths(
    page: Page, demo: Demo, admin: Api, shots: Path
) -> None:
    """Each admin page by its navigation: axe finds nothing serious, and it is shown at
    1280 px and at 390 px without scrolling sideways."""
    sign_in_as_admin(page, demo)
    for link, heading, name in ADMIN_PAGES:
        page.get_by_role("navigation", name="Admin").get_by_role("link", name=link).click()
        title = page.get_by_role("heading", level=1)
        if heading:
            expect(title).to_have_text(heading)
        expect(title).to_be_focused()
        expect(page.get_by_role("status").filter(has_text="Loading")).to_have_count(0)
        assert_accessible(page, name)
        at_both_widths(page, shots, name)
