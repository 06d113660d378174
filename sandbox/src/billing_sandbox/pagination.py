"""Stripe list objects: newest first, `limit`, `starting_after`, `ending_before`, `created`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from localstripe.resources import List, StripeObject, store

from . import errors
from .params import Params, as_dict, as_int

PAGE_PARAMS = ("limit", "starting_after", "ending_before", "created")


class Page(List):
    """One page of a list, exported (and expanded) by localstripe's machinery."""

    def __init__(self, url: str, window: list[Any], more: bool) -> None:
        super().__init__(url, limit=max(1, len(window)))
        self._list = window
        self._more = more

    @property
    def has_more(self) -> bool:
        return self._more


def stored(object_type: str) -> list[Any]:
    """All stored objects of a type, newest first."""
    prefix = object_type + ":"
    return [value for key, value in reversed(store.items()) if key.startswith(prefix)]


def _created_filter(value: Any) -> Callable[[Any], bool]:
    if not isinstance(value, dict):
        moment = as_int(value, "created")
        return lambda obj: obj.created == moment
    bounds = {op: as_int(v, f"created[{op}]") for op, v in as_dict(value, "created").items()}
    checks = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    return lambda obj: all(checks[op](obj.created, b) for op, b in bounds.items())


def _index(items: list[Any], id: str, param: str) -> int:
    for position, item in enumerate(items):
        if item.id == id:
            return position
    raise errors.invalid(f"No such object: '{id}'", param)


def page(url: str, items: Iterable[StripeObject], data: Params) -> Page:
    """Cut one page out of items (already newest first) as Stripe pages lists."""
    items = list(items)
    if data.get("created") not in (None, ""):
        keep = _created_filter(data["created"])
        items = [item for item in items if keep(item)]
    limit = as_int(data.get("limit", 10), "limit")
    if not 1 <= limit <= 100:
        raise errors.invalid("Limit must be between 1 and 100.", "limit")
    if data.get("starting_after"):
        start = _index(items, data["starting_after"], "starting_after") + 1
        return Page(url, items[start : start + limit], len(items) > start + limit)
    if data.get("ending_before"):
        end = _index(items, data["ending_before"], "ending_before")
        return Page(url, items[max(0, end - limit) : end], end - limit > 0)
    return Page(url, items[:limit], len(items) > limit)
