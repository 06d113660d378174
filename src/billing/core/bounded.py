"""Per-process caches that cannot grow without bound.

A map that is cleared whole when full: no eviction order to keep, and a flood of new
keys costs a cold cache, never memory.
"""

from __future__ import annotations

from typing import TypeVar

V = TypeVar("V")


def bounded_put(entries: dict[str, V], key: str, value: V, size: int) -> None:
    """Set `key`, first clearing `entries` if a new key would take it past `size`."""
    if len(entries) >= size and key not in entries:
        entries.clear()
    entries[key] = value
