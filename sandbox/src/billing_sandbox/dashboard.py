"""/dashboard: what the flows made (customers, subscriptions, invoices, payments, disputes,
events), and the buttons a developer needs: resend an event, advance a test clock, dispute a
charge. Plain HTML from the server; actions are POST forms guarded against other sites."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import web
from localstripe.errors import UserError

from . import clocks, disputes, errors, routing
from . import dashboard_kinds as kinds
from . import dashboard_views as views
from .delivery import DELIVERER, Attempt, Target

FLASH = "sandbox_dashboard_flash"
Form = Mapping[str, Any]
Action = Callable[[web.Request, Any, Form], str]
Section = Callable[[web.Request, Any], str]


def _nav() -> str:
    links = [views.link("/dashboard", "Dashboard")]
    links += [views.link(f"/dashboard/{kind.slug}", kind.title) for kind in kinds.KINDS]
    return "".join(links)


def _flash(request: web.Request) -> tuple[bool, str] | None:
    cookie = request.cookies.get(FLASH)
    if not cookie:
        return None
    tone, _, message = unquote(cookie).partition("|")
    return tone == "ok", message


def _render(request: web.Request, title: str, body: str, status: int = 200) -> web.Response:
    """A dashboard page, showing (once) the message the last action left."""
    flash = _flash(request)
    response = views.respond(title, views.layout(title, body, _nav(), flash), status)
    if flash is not None:
        response.del_cookie(FLASH, path="/dashboard")
    return response


def _redirect(to: str, ok: bool, message: str) -> web.Response:
    """303 back to a page, which will show message."""
    response = web.Response(status=303, headers={"Location": to})
    value = quote(f"{'ok' if ok else 'bad'}|{message}")
    response.set_cookie(FLASH, value, path="/dashboard", httponly=True, samesite="Strict")
    return response


def _webhooks(targets: list[Target]) -> str:
    rows = ([views.text(t.id), views.text(t.url), views.text(", ".join(t.events))] for t in targets)
    return views.table(("Target", "URL", "Events"), rows, "No webhook endpoint yet.")


@routing.page("GET", "/dashboard")
async def home(request: web.Request, _: dict[str, str]) -> web.Response:
    """Counts of each kind, and where events go."""
    cards = "".join(
        f"<a href='/dashboard/{kind.slug}'><b>{len(kind.all())}</b>{views.text(kind.title)}</a>"
        for kind in kinds.KINDS
    )
    body = (
        f"<div class=cards>{cards}</div><h2>Webhook targets</h2>"
        f"{_webhooks(request.app[DELIVERER].targets())}"
    )
    return _render(request, "Overview", body)


def _kind(slug: str) -> kinds.Kind:
    kind = kinds.BY_SLUG.get(slug)
    if kind is None:
        raise web.HTTPNotFound(text=f"The dashboard has no list called {slug!r}.")
    return kind


def _page_number(request: web.Request) -> int:
    try:
        return max(1, int(request.query.get("page", "1")))
    except ValueError:
        return 1


@routing.page("GET", "/dashboard/{slug}")
async def listing(request: web.Request, path: dict[str, str]) -> web.Response:
    """One kind's objects, newest first, PER_PAGE a page."""
    kind = _kind(path["slug"])
    items, number = kind.all(), _page_number(request)
    pager = views.pager(f"/dashboard/{kind.slug}", number, len(items))
    body = pager + kind.rows(views.window(items, number), f"No {kind.title.lower()} yet.")
    return _render(request, kind.title, body)


def _related(obj: Any, kind: kinds.Kind) -> str:
    sections = []
    for slug, attribute in kind.related:
        other = kinds.BY_SLUG[slug]
        found = kinds.pointing_at(slug, attribute, obj.id)[: views.PER_PAGE]
        sections.append(f"<h2>{views.text(other.title)}</h2>{other.rows(found)}")
    if kind.slug != "events":
        about = kinds.events_about(obj.id)[: views.PER_PAGE]
        sections.append(f"<h2>Events</h2>{kinds.BY_SLUG['events'].rows(about)}")
    return "".join(sections)


@routing.page("GET", "/dashboard/{slug}/{id}")
async def detail(request: web.Request, path: dict[str, str]) -> web.Response:
    """An object: its fields, what can be done with it, what points at it, its JSON."""
    kind = _kind(path["slug"])
    obj = kind.get(path["id"])
    title = f"{kind.noun} {path['id']}"
    if obj is None:
        return _render(request, title, "<p>No such object.</p>", 404)
    summary = views.pairs((column.header, column.render(obj)) for column in kind.columns)
    section = SECTIONS.get(kind.slug)
    actions = section(request, obj) if section else ""
    raw = views.link(f"/dashboard/json/{kind.slug}/{obj.id}", "raw")
    body = (
        f"{summary}{actions}{_related(obj, kind)}"
        f"<h2>JSON ({raw})</h2>{views.json_block(obj._export())}"
    )
    return _render(request, title, body)


@routing.page("GET", "/dashboard/json/{slug}/{id}")
async def raw_json(_: web.Request, path: dict[str, str]) -> web.Response:
    """The object as the Stripe API returns it (without needing a key)."""
    obj = _kind(path["slug"]).get(path["id"])
    if obj is None:
        raise errors.no_such(path["slug"], path["id"])
    response = routing.json_response(obj._export())
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _same_site(request: web.Request, form: Form) -> bool:
    """Whether a POST comes from the dashboard's own pages: same origin and its token."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        return False
    return secrets.compare_digest(str(form.get("csrf", "")), views.TOKEN)


def action(slug: str, verb: str) -> Callable[[Action], Action]:
    """Register POST /dashboard/{slug}/{id}/{verb}: do it, then 303 back with a message."""
    kind = kinds.BY_SLUG[slug]

    def register(act: Action) -> Action:
        async def handle(request: web.Request, path: dict[str, str]) -> web.Response:
            form = await request.post()
            if not _same_site(request, form):
                return _render(request, "Refused", "<p>Cross-site request refused.</p>", 403)
            obj = kind.get(path["id"])
            if obj is None:
                return _render(request, kind.noun, "<p>No such object.</p>", 404)
            try:
                ok, message = True, act(request, obj, form)
            except UserError as error:
                ok, message = False, str(error.body["error"].get("message", "failed"))
            return _redirect(kind.url(obj.id), ok, message)

        routing.page("POST", f"/dashboard/{slug}/{{id}}/{verb}")(handle)
        return act

    return register


@action("events", "resend")
def resend(request: web.Request, event: Any, _: Form) -> str:
    """Deliver the event again to every target that takes its type."""
    targets = request.app[DELIVERER].resend(event)
    if not targets:
        raise errors.invalid(f"No webhook target takes {event.type} events.")
    return f"Resending {event.id} to " + ", ".join(target.url for target in targets)


@action("test_clocks", "advance")
def advance(_: web.Request, clock: Any, form: Form) -> str:
    """Advance the clock as POST /v1/test_helpers/test_clocks/{id}/advance does."""
    try:
        moment = views.parse_local(str(form.get("frozen_time", "")))
    except ValueError:
        raise errors.invalid("Give the time to advance to.", "frozen_time") from None
    clocks.advance({"id": clock.id, "frozen_time": moment})
    return f"Advanced {clock.id} to {views.when(moment)}"


@action("charges", "dispute")
def dispute(_: web.Request, charge: Any, form: Form) -> str:
    """Open a dispute on the charge, as a cardholder's bank would."""
    opened = disputes.open(charge, str(form.get("status", "needs_response")))
    return f"Opened dispute {opened.id} ({opened.status})"


def _attempt_row(attempt: Attempt) -> list[str]:
    return [
        views.text(attempt.target),
        views.text(attempt.url),
        str(attempt.number),
        views.when(attempt.at),
        views.result(attempt.status, attempt.error),
    ]


def _deliveries(request: web.Request, event: Any) -> str:
    """The event's delivery attempts and its Resend button."""
    deliverer = request.app[DELIVERER]
    rows = [_attempt_row(attempt) for attempt in deliverer.attempts.of(event.id)]
    table = views.table(
        ("Target", "URL", "Attempt", "Time", "Result"), rows, "No delivery attempt recorded."
    )
    wanting = [target for target in deliverer.targets() if target.wants(event.type)]
    button = views.form(f"/dashboard/events/{event.id}/resend", "Resend")
    takers = f"{len(wanting)} target(s) taking {event.type}"
    note = f"<p class=muted>Resend goes to {views.text(takers)}.</p>"
    return f"<h2>Deliveries</h2><div id=deliveries>{table}</div>{button}{note}"


def _advance_form(_: web.Request, clock: Any) -> str:
    """Advance the clock to a moment (UTC), a month on by default."""
    suggested = views.local_input(clock.frozen_time + 31 * 86400)
    field = (
        "<label for=frozen_time>Advance to (UTC)</label>"
        f"<input type=datetime-local id=frozen_time name=frozen_time value='{suggested}'"
        " step=60 required>"
    )
    note = f"<p>Frozen at <b id=frozen>{views.when(clock.frozen_time)}</b></p>"
    return f"<h2>Advance</h2>{note}" + views.form(
        f"/dashboard/test_clocks/{clock.id}/advance", "Advance", field
    )


def _dispute_form(_: web.Request, charge: Any) -> str:
    """Dispute a succeeded charge: a chargeback or an inquiry."""
    if charge.status != "succeeded" or getattr(charge, "disputed", False):
        return ""
    choice = (
        "<select name=status><option value=needs_response>Chargeback</option>"
        f"<option value={disputes.INQUIRY}>Inquiry</option></select>"
    )
    form = views.form(f"/dashboard/charges/{charge.id}/dispute", "Create dispute", choice)
    return f"<h2>Dispute</h2>{form}"


SECTIONS: dict[str, Section] = {
    "events": _deliveries,
    "test_clocks": _advance_form,
    "charges": _dispute_form,
}
