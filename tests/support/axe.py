"""axe-core (npm, a devDependency of the frontend) in the browser tests: the page is
checked as it is shown, and a violation of impact `serious` or `critical` fails the test.

axe's script is evaluated through Playwright's channel to the browser rather than added as
an inline `<script>`: the service's Content-Security-Policy (`script-src 'self'`) rightly
refuses inline scripts, and the page fixtures fail a test on any refusal. axe itself
needs no `eval`, so it runs under that policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
NEEDS_AXE = pytest.mark.skipif(
    not AXE.is_file(), reason=f"{AXE} is missing: install the frontend's packages (make install)"
)

# Only what a report needs crosses back: rule, impact, help and the elements' selectors.
RUN = """async (options) => {
  const results = await axe.run(document, options);
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
  }));
}"""


def inject(page: Page) -> None:
    """axe into the page, once per document."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())


def violations(page: Page, impacts: tuple[str, ...] = BLOCKING) -> list[dict[str, Any]]:
    """The page's accessibility violations of these impacts (WCAG 2.x A and AA rules)."""
    inject(page)
    options = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    found: list[dict[str, Any]] = page.evaluate(RUN, options)
    return [v for v in found if v["impact"] in impacts]


def assert_accessible(page: Page, where: str = "") -> None:
    """No serious or critical violation on the page as it is now."""
    found = violations(page)
    lines = [f"{v['impact']} {v['id']}: {v['help']} at {', '.join(v['nodes'])}" for v in found]
    assert not found, f"axe on {where or page.url}:\n" + "\n".join(lines)
