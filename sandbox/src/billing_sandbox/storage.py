"""State lives in --data-dir: localstripe's pickle path is fixed, so it is redirected."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

from localstripe.resources import Store, store

from . import routing
from .params import Params

STORE_FILE = "store.pickle"


def install(data_dir: Path) -> None:
    """Point localstripe's store at data_dir and write it once per request, atomically."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / STORE_FILE

    def load(self: Store) -> None:
        if path.exists():
            with path.open("rb") as f:
                self.clear()
                self.update(pickle.load(f))  # noqa: S301 - our own file

    def dump(self: Store) -> None:
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)

    Store.try_load_from_disk = load
    Store.dump_to_disk = dump
    # localstripe pickles the whole store on every assignment; once per request is enough.
    Store.__setitem__ = dict.__setitem__
    Store.__delitem__ = dict.__delitem__


@routing.api("DELETE", "/_config/data", auth="none")
def reset(_: Params) -> dict[str, Any]:
    """Forget everything (objects, events, endpoints, idempotency keys)."""
    store.clear()
    return {"deleted": True}
