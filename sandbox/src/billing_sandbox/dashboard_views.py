"""HTML pieces of the sandbox's dashboard: layout, tables, times, forms. Everything from
objects passes through `text` (escaped) before it reaches a page."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from aiohttp import web

from . import pages

# Every dashboard form carries it; a page on another site cannot read it, so cannot forge one.
TOKEN = secrets.token_urlsafe(24)
PER_PAGE = 50
GOOD = ("active", "paid", "succeeded", "won", "ready", "enabled", "trialing")
BAD = ("failed", "past_due", "unpaid", "lost", "needs_response", "warning_needs_response")

STYLE = """
main{max-width:1240px;margin:24px auto;padding:20px 32px}
nav{display:flex;flex-wrap:wrap;gap:16px;margin-bottom:16px;font-size:14px}
nav a,td a,p a,h2 a{color:#635bff;text-decoration:none}
h1{font-size:22px;margin:8px 0 16px}h2{font-size:17px;margin:28px 0 8px}
table{font-size:13px;margin:6px 0}
th{text-align:left;font-weight:600;border-bottom:1px solid #d5dbe1;padding:6px 8px}
td{padding:6px 8px;border-bottom:1px solid #eef1f4;vertical-align:top}
td:last-child{text-align:left}
table.pairs th{width:200px;border:0;font-weight:500;color:#6a7383}
pre{background:#f6f9fc;padding:12px;border-radius:6px;overflow:auto;font-size:12px}
form.inline{display:flex;gap:8px;align-items:center;margin:8px 0}
form.inline input,form.inline select{width:auto;padding:7px}
button{width:auto;margin-top:0;padding:8px 16px;font-size:14px}
.flash{padding:10px 14px;border-radius:6px;background:#e6f4ea;border:1px solid #b7dfc2}
.flash.bad{background:#fdecee;border-color:#f5b5c1}
.ok{color:#0a7d34}.bad{color:#df1b41}.muted{color:#6a7383}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.cards a{display:block;padding:14px;border:1px solid #e3e8ee;border-radius:8px;
color:inherit;text-decoration:none}.cards b{display:block;font-size:26px}
.pager{display:flex;gap:16px;margin:12px 0}
"""


def text(value: Any) -> str:
    """A value as escaped text; None as nothing."""
    return "" if value is None else escape(str(value))


def when(moment: Any) -> str:
    """A Unix time as UTC, the way test clocks' times are given."""
    if isinstance(moment, bool) or not isinstance(moment, int | float):
        return text(moment)
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def local_input(moment: int) -> str:
    """A Unix time as a datetime-local input's value (UTC)."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M")


def parse_local(value: str) -> int:
    """A datetime-local input's value (read as UTC) as a Unix time; ValueError if not one."""
    return int(datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp())


def link(href: str, label: Any) -> str:
    return f"<a href='{escape(href)}'>{text(label)}</a>"


def status(value: Any) -> str:
    """A status, green when settled well, red when something needs doing."""
    tone = "ok" if value in GOOD else "bad" if value in BAD else "muted"
    return f"<span class={tone}>{text(value)}</span>"


def result(code: int | None, error: str | None) -> str:
    """A delivery's outcome: its HTTP status, or why there was none."""
    if code is None:
        return f"<span class=bad>{text(error or 'no response')}</span>"
    tone = "ok" if 200 <= code < 300 else "bad"
    return f"<span class={tone}>HTTP {code}</span>"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str = "None.") -> str:
    """A table of HTML cells (already escaped) under plain-text headers."""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f"<p class=muted>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(header)}</th>" for header in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def pairs(items: Iterable[tuple[str, str]]) -> str:
    """Label / value rows (values already HTML)."""
    rows = "".join(f"<tr><th>{escape(label)}</th><td>{value}</td></tr>" for label, value in items)
    return f"<table class=pairs>{rows}</table>"


def json_block(data: Any) -> str:
    return f"<pre>{escape(json.dumps(data, indent=2, default=str))}</pre>"


def form(action: str, button: str, fields: str = "") -> str:
    """A POST form to a dashboard action, with the token that proves it came from here."""
    return (
        f"<form class=inline method=post action='{escape(action)}'>"
        f"<input type=hidden name=csrf value='{TOKEN}'>{fields}"
        f"<button type=submit>{escape(button)}</button></form>"
    )


def window(items: Sequence[Any], page: int) -> list[Any]:
    """One page (1-based) of items."""
    start = (page - 1) * PER_PAGE
    return list(items[start : start + PER_PAGE])


def pager(base: str, page: int, total: int) -> str:
    """Links to the newer and older pages of a list."""
    links = []
    if page > 1:
        links.append(link(f"{base}?page={page - 1}", "← Newer"))
    if page * PER_PAGE < total:
        links.append(link(f"{base}?page={page + 1}", "Older →"))
    last = min(total, page * PER_PAGE)
    shown = f"{(page - 1) * PER_PAGE + 1}-{last} of {total}" if total else "0 of 0"
    return f"<div class=pager><span class=muted>{shown}</span>{''.join(links)}</div>"


def layout(title: str, body: str, nav: str, flash: tuple[bool, str] | None) -> str:
    """The page inside <main>: navigation, the flash message, the title, the body."""
    note = ""
    if flash is not None:
        ok, message = flash
        note = f"<p class='flash{'' if ok else ' bad'}' role=status>{text(message)}</p>"
    return f"<nav>{nav}</nav>{note}<h1>{text(title)}</h1>{body}"


def respond(title: str, inner: str, status: int = 200) -> web.Response:
    """A complete dashboard page: the hosted pages' layout, widened."""
    return pages.page(f"{title} · Sandbox dashboard", inner, status, style=STYLE)
