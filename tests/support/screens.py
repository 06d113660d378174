"""The web app's pages in the browser tests: what the pages need (Chromium and a built
frontend), signing in through the sign-in page, and screenshots of a page at desktop
width and at a phone's (each path is printed, so a run says where to look)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from billing.http.frontend import FRONTEND_DIST
from tests.runtime.test_demo import Demo

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

NEEDS_FRONTEND_BUILD = pytest.mark.skipif(
    not (FRONTEND_DIST / "index.html").is_file(),
    reason="frontend/dist is missing: build the frontend (make install)",
)

# The elements that reach past the viewport's right edge, outermost first, for the report.
WIDEST = """width => Array.from(document.querySelectorAll('body *'))
  .filter((e) => e.getBoundingClientRect().right > width + 1)
  .filter((e) => !e.parentElement?.closest('.table-scroll, .dialog')
    || e.matches('.visually-hidden'))
  .slice(0, 6)
  .map((e) => `${e.tagName.toLowerCase()}.${e.className}#${e.id}`
    + ` ${Math.round(e.getBoundingClientRect().right)}`)"""


def sign_in(page: Page, demo: Demo, user_id: int) -> None:
    """As the user, by the development sign-in: the app opens their credits page."""
    page.goto(f"{demo.base}/#/sign-in")
    page.get_by_label("User id", exact=True).fill(str(user_id))
    page.get_by_role("button", name=f"Sign in as user {user_id}").click()
    page.wait_for_url(re.compile(r"#/credits$"))
    expect(page.get_by_test_id("signed-in-as")).to_have_text(f"User {user_id}")


def sign_in_as_admin(page: Page, demo: Demo) -> None:
    """As the admin, by the development sign-in: the app opens the admin dashboard."""
    page.goto(f"{demo.base}/#/sign-in")
    page.get_by_role("button", name="Sign in as admin").click()
    page.wait_for_url(re.compile(r"#/admin$"))


def shot(page: Page, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    print(f"screenshot: {path}")
    return path


def at_both_widths(page: Page, folder: Path, name: str) -> None:
    """The page at 1280 px, then at 390 px, where nothing may scroll sideways."""
    shot(page, folder, name)
    page.set_viewport_size(PHONE)
    # Polled from here: `wait_for_function` evaluates with the page's eval, which the
    # service's Content-Security-Policy (no 'unsafe-eval') refuses.
    fits = f"document.documentElement.scrollWidth <= {PHONE['width']}"
    deadline = time.monotonic() + 5  # once a chart has followed the resize
    while not page.evaluate(fits):
        if time.monotonic() > deadline:
            wide = page.evaluate(WIDEST, PHONE["width"])
            raise AssertionError(f"{name} scrolls sideways at {PHONE['width']} px: {wide}")
        page.wait_for_timeout(50)
    shot(page, folder, f"{name}-phone")
    page.set_viewport_size(DESKTOP)


def short_date(page: Page, iso: str) -> str:
    """What `formatShortDate` shows for `iso` in the page's locale and zone ('Jan 4')."""
    return str(
        page.evaluate(
            """iso => {
              const date = new Date(iso);
              const options = {month: 'short', day: 'numeric'};
              if (date.getFullYear() !== new Date().getFullYear()) options.year = 'numeric';
              return new Intl.DateTimeFormat(undefined, options).format(date);
            }""",
            iso,
        )
    )
