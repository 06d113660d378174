"""Grants: the terms credits enter a wallet on, and the order they leave it in.

A grant is a sub-account of a wallet. Debits consume active grants in consumption order:
lowest `priority` first, then the soonest `expires_at` (never-expiring last), then the
oldest, then the lowest id. A grant whose `expires_at` has passed is spent by nothing and
counted in no balance, whether or not the expiry job has swept it yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.sql.elements import BindParameter, UnaryExpression

from billing.credits.models import ACTIVE, CreditGrant

GrantSource = Literal["purchase", "subscription", "topup", "auto_topup", "admin", "promotion"]
SOURCES: tuple[str, ...] = get_args(GrantSource)
PROMOTIONAL: tuple[str, ...] = ("admin", "promotion")  # the rest were paid for
DEFAULT_PRIORITY, PROMOTION_PRIORITY = 50, 10
MIN_PRIORITY, MAX_PRIORITY = 0, 100


def default_priority(source: str) -> int:
    return PROMOTION_PRIORITY if source == "promotion" else DEFAULT_PRIORITY


@dataclass(frozen=True, slots=True)
class GrantTerms:
    """How a credit's grant is opened: its source, priority and expiry (None: never)."""

    source: str
    priority: int | None = None
    expires_at: datetime | None = None

    @property
    def effective_priority(self) -> int:
        return default_priority(self.source) if self.priority is None else self.priority


def spendable(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """Active and not yet expired at `now`."""
    return and_(
        CreditGrant.status == ACTIVE,
        or_(CreditGrant.expires_at.is_(None), CreditGrant.expires_at > now),
    )


def lapsed(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """Still active in the table, but expired at `now`: counted nowhere, swept by the job."""
    return and_(CreditGrant.status == ACTIVE, CreditGrant.expires_at <= now)


def consumption_order() -> tuple[UnaryExpression[Any], ...]:
    return (
        CreditGrant.priority.asc(),
        CreditGrant.expires_at.asc().nulls_last(),
        CreditGrant.created_at.asc(),
        CreditGrant.id.asc(),
    )


def allocate(available: list[tuple[int, int]], amount: int) -> list[tuple[int, int]]:
    """(grant id, credits taken) from `available` (id, remaining) in the order given,
    until `amount` is covered; the caller has checked that it can be."""
    taken: list[tuple[int, int]] = []
    for grant_id, remaining in available:
        if amount <= 0:
            break
        take = min(remaining, amount)
        taken.append((grant_id, take))
        amount -= take
    return taken
