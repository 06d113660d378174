"""What the dashboard lists: each kind of stored object, its columns, and what points at it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localstripe.resources import store

from . import pagination
from .dashboard_views import link, status, table, text, when
from .pages import money

Render = Callable[[Any], str]


@dataclass(frozen=True)
class Column:
    header: str
    render: Render  # the object's cell, as escaped HTML


@dataclass(frozen=True)
class Kind:
    """One list of the dashboard: /dashboard/{slug}, objects stored as `{type}:{id}`."""

    slug: str
    type: str
    title: str
    noun: str
    prefix: str
    columns: tuple[Column, ...]
    related: tuple[tuple[str, str], ...] = ()  # (slug, attribute holding this object's id)

    def all(self) -> list[Any]:
        """Every stored object of this kind, newest first."""
        return pagination.stored(self.type)

    def get(self, id: str) -> Any | None:
        return store.get(f"{self.type}:{id}")

    def url(self, id: str) -> str:
        return f"/dashboard/{self.slug}/{id}"

    def rows(self, items: list[Any], empty: str = "None.") -> str:
        """Items as a table of this kind's columns."""
        cells = ([column.render(item) for column in self.columns] for item in items)
        return table([column.header for column in self.columns], cells, empty)


def ident(value: Any) -> str | None:
    """The id in a field that holds an id or an object."""
    if isinstance(value, str):
        return value
    found = getattr(value, "id", None) or (value.get("id") if isinstance(value, dict) else None)
    return found if isinstance(found, str) else None


def kind_of(id: str) -> Kind | None:
    return next((kind for kind in KINDS if id.startswith(kind.prefix)), None)


def ref(value: Any) -> str:
    """An id (or object) linked to its dashboard page when the dashboard has one."""
    id = ident(value)
    if id is None:
        return text(value)
    kind = kind_of(id)
    return link(kind.url(id), id) if kind and kind.get(id) is not None else text(id)


def field(name: str, header: str | None = None) -> Column:
    return Column(header or name.replace("_", " ").capitalize(), lambda o: text(_get(o, name)))


def refers(name: str, header: str | None = None) -> Column:
    return Column(header or name.replace("_", " ").capitalize(), lambda o: ref(_get(o, name)))


def moment(name: str, header: str) -> Column:
    return Column(header, lambda o: when(_get(o, name)))


def amount(name: str, header: str = "Amount") -> Column:
    return Column(header, lambda o: text(_money(_get(o, name), _get(o, "currency"))))


def _get(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:  # a property over an object since deleted
        return None


def _money(value: Any, currency: Any) -> str | None:
    if not isinstance(value, int) or not isinstance(currency, str):
        return None
    return money(value, currency)


def clock(obj: Any) -> str:
    """The object's test clock and its frozen time, or nothing when it runs on real time."""
    id = _get(obj, "test_clock")
    found = store.get(f"test_helpers.test_clock:{id}") if id else None
    if found is None:
        return text(id)
    return f"{ref(id)}<br><span class=muted>frozen at {when(found.frozen_time)}</span>"


def _period_amount(sub: Any) -> str:
    items = sub.item_list() if hasattr(sub, "item_list") else []
    return text(_money(sum(item.amount() for item in items), _get(sub, "currency")))


def _event_object(event: Any) -> str:
    obj = event.data.get("object", {})
    return f"{ref(obj.get('id'))} <span class=muted>{text(obj.get('object'))}</span>"


def _due_by(dispute: Any) -> str:
    return when((_get(dispute, "evidence_details") or {}).get("due_by"))


ID = Column("ID", lambda o: ref(o.id))
STATUS = Column("Status", lambda o: status(_get(o, "status")))
CREATED = moment("created", "Created")

KINDS: tuple[Kind, ...] = (
    Kind(
        "customers",
        "customer",
        "Customers",
        "Customer",
        "cus_",
        (ID, field("name"), field("email"), Column("Test clock", clock), CREATED),
        (
            ("subscriptions", "customer"),
            ("invoices", "customer"),
            ("payment_intents", "customer"),
            ("charges", "customer"),
        ),
    ),
    Kind(
        "subscriptions",
        "subscription",
        "Subscriptions",
        "Subscription",
        "sub_",
        (
            ID,
            refers("customer"),
            STATUS,
            Column("Per period", _period_amount),
            moment("current_period_end", "Period ends"),
            refers("latest_invoice"),
            Column("Test clock", clock),
            CREATED,
        ),
        (("invoices", "subscription"),),
    ),
    Kind(
        "invoices",
        "invoice",
        "Invoices",
        "Invoice",
        "in_",
        (
            ID,
            field("number"),
            refers("customer"),
            refers("subscription"),
            field("billing_reason"),
            STATUS,
            amount("amount_due", "Amount due"),
            amount("amount_paid", "Paid"),
            moment("period_end", "Period end"),
            CREATED,
        ),
        (("payment_intents", "invoice"),),
    ),
    Kind(
        "payment_intents",
        "payment_intent",
        "Payment intents",
        "Payment intent",
        "pi_",
        (ID, amount("amount"), STATUS, refers("customer"), refers("latest_charge"), CREATED),
        (("charges", "payment_intent"), ("disputes", "payment_intent")),
    ),
    Kind(
        "charges",
        "charge",
        "Charges",
        "Charge",
        "ch_",
        (
            ID,
            amount("amount"),
            STATUS,
            field("disputed"),
            refers("payment_intent"),
            refers("customer"),
            CREATED,
        ),
        (("disputes", "charge"),),
    ),
    Kind(
        "disputes",
        "dispute",
        "Disputes",
        "Dispute",
        "dp_",
        (
            ID,
            amount("amount"),
            STATUS,
            field("reason"),
            refers("charge"),
            refers("payment_intent"),
            Column("Evidence due", _due_by),
            CREATED,
        ),
    ),
    Kind(
        "events",
        "event",
        "Events",
        "Event",
        "evt_",
        (
            ID,
            field("type"),
            Column("Object", _event_object),
            field("pending_webhooks", "Pending webhooks"),
            CREATED,
        ),
    ),
    Kind(
        "test_clocks",
        "test_helpers.test_clock",
        "Test clocks",
        "Test clock",
        "clock_",
        (ID, field("name"), moment("frozen_time", "Frozen time"), STATUS, CREATED),
        (("customers", "test_clock"), ("subscriptions", "test_clock"), ("invoices", "test_clock")),
    ),
)
BY_SLUG = {kind.slug: kind for kind in KINDS}


def pointing_at(slug: str, attribute: str, id: str) -> list[Any]:
    """The objects of a kind whose attribute holds id, newest first."""
    return [obj for obj in BY_SLUG[slug].all() if ident(_get(obj, attribute)) == id]


def events_about(id: str) -> list[Any]:
    """The events whose object is id, newest first."""
    return [e for e in BY_SLUG["events"].all() if e.data.get("object", {}).get("id") == id]
