"""Reading form-encoded Stripe parameters: everything arrives as strings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import errors

Params = dict[str, Any]


def reject_unknown(data: Params, allowed: Iterable[str]) -> None:
    """Stripe refuses parameters it does not know; so does the sandbox."""
    known = set(allowed) | {"expand"}
    for key in data:
        if key not in known:
            raise errors.unknown(key)


def as_int(value: Any, param: str) -> int:
    """An integer parameter."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.invalid(f"Invalid integer: {value}", param) from None


def as_bool(value: Any, param: str) -> bool:
    """A boolean parameter (`true`/`false`)."""
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise errors.invalid(f"Invalid boolean: {value}", param)


def as_dict(value: Any, param: str) -> Params:
    """A hash parameter; Stripe treats an empty string as an empty hash."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise errors.invalid(f"Invalid object: {param}", param)
    return value


def as_list(value: Any, param: str) -> list[Any]:
    """An array parameter."""
    if value in (None, ""):
        return []
    if isinstance(value, dict):
        return list(value.values())
    if not isinstance(value, list):
        raise errors.invalid(f"Invalid array: {param}", param)
    return value


def metadata(value: Any, current: dict[str, str] | None = None) -> dict[str, str]:
    """Merge metadata as Stripe does: empty values delete keys."""
    merged = dict(current or {})
    for key, item in as_dict(value, "metadata").items():
        if item in ("", None):
            merged.pop(key, None)
        else:
            merged[key] = str(item)
    return merged


def required(data: Params, param: str) -> Any:
    """A parameter that must be present."""
    if data.get(param) in (None, ""):
        raise errors.missing(param)
    return data[param]
