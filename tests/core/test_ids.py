"""Fresh ids: unique within a process and across forked ones, and in mint order."""

from __future__ import annotations

import os

from billing.core.ids import FreshIds
from billing.credits.models import CreditTransaction
from billing.credits.service import transaction_key

LENGTH = 16 + 16  # 8 random bytes in hex, then the counter's 16 hex digits


def test_ids_are_unique_and_sort_in_the_order_they_were_minted() -> None:
    ids = FreshIds(8)
    minted = [ids.next() for _ in range(5000)]
    assert len(set(minted)) == len(minted)
    assert sorted(minted) == minted  # a unique index on them grows at its end


def test_a_forked_process_mints_from_a_prefix_of_its_own() -> None:
    ids = FreshIds(8)
    parent = ids.next()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's coverage is not collected
        try:
            os.write(write, ids.next().encode())
        finally:
            os._exit(0)
    os.close(write)
    forked = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(child, 0)
    assert len(forked) == LENGTH
    assert forked[16:] == "0" * 16  # the child's counter starts again
    assert forked[:16] != parent[:16]
    assert ids.next()[:16] == parent[:16]  # the parent's own prefix is unchanged


def test_ledger_keys_are_the_services_own_and_fit_their_column() -> None:
    key = transaction_key(None)
    assert key.startswith("auto:")
    assert transaction_key(None) != key
    assert len(key) <= CreditTransaction.__table__.c.idempotency_key.type.length
    assert transaction_key("mine") == "mine"
