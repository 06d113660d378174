"""Work that must wait for a commit: what a transaction tells the outside world.

An alert or a metric for an attempt that rolls back (and is retried) would be false,
or counted twice. A transaction's owner collects the callbacks its writers register
(`collecting`) and runs them once it has committed (`run`); outside such an owner,
where nobody collects them, a callback runs at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

Callback = Callable[[], None]
_KEY = "billing.after_commit"  # session.info key: the callbacks of the transaction
logger = structlog.get_logger(__name__)


def after_commit(session: AsyncSession, callback: Callback) -> None:
    """Run `callback` once the session's transaction commits (at once if nobody collects)."""
    pending: list[Callback] | None = session.info.get(_KEY)
    if pending is None:
        callback()
    else:
        pending.append(callback)


@contextmanager
def collecting(session: AsyncSession) -> Iterator[list[Callback]]:
    """Collect the callbacks registered on `session` within the block; the caller runs
    them (`run`) once it has committed, or drops them when it rolls back."""
    pending: list[Callback] = []
    session.info[_KEY] = pending
    try:
        yield pending
    finally:
        session.info.pop(_KEY, None)


def run(callbacks: list[Callback]) -> None:
    """Run committed work's callbacks; one that fails is logged, never raised: the
    transaction is committed, and a broken notifier must not undo that."""
    for callback in callbacks:
        try:
            callback()
        except Exception:
            logger.exception("after_commit_callback_failed")
