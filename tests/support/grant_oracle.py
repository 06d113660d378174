"""A pure-Python model of wallets and their grants, written from DESIGN.md ("Credits
platform") rather than from the implementation, for property tests to compare with.

Its consumption order is its own: priority ascending, then the soonest `expires_at` (a
grant that never expires last), then the oldest `created_at`, then the lowest id. A grant
whose `expires_at` is at or before `now` has lapsed: spent by nothing, counted nowhere,
shown as `expired` with nothing remaining, until the sweep makes that final.

A hold reserves credits the way a debit takes them (`Wallet.take`) and counts in
`Wallet.held` while active. Settling it captures first from the grants that can take
nothing back (lapsed or voided), then in consumption order; the rest goes back to the
grants it came from, and what would go back to a dead grant is lost.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

ACTIVE, DEPLETED, EXPIRED, VOIDED = "active", "depleted", "expired", "voided"
CAPTURED, RELEASED = "captured", "released"
EXPIRING_SHOWN = 3
PROMOTION_PRIORITY, DEFAULT_PRIORITY = 10, 50
NEVER = datetime.max.replace(tzinfo=UTC)  # where a grant that never expires sorts


def priority_for(source: str, priority: int | None) -> int:
    if priority is not None:
        return priority
    return PROMOTION_PRIORITY if source == "promotion" else DEFAULT_PRIORITY


@dataclass
class ModelGrant:
    id: int
    amount: int
    priority: int
    expires_at: datetime | None
    created_at: datetime
    remaining: int = -1  # set to `amount` on creation
    ended: str | None = None  # depleted, expired or voided once emptied

    def __post_init__(self) -> None:
        if self.remaining < 0:
            self.remaining = self.amount

    def lapsed(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def spendable(self, now: datetime) -> bool:
        return self.remaining > 0 and not self.lapsed(now)

    def status(self, now: datetime) -> str:
        if self.remaining == 0:
            return self.ended or DEPLETED
        return EXPIRED if self.lapsed(now) else ACTIVE

    def shown_remaining(self, now: datetime) -> int:
        return self.remaining if self.spendable(now) else 0

    def order(self) -> tuple[int, datetime, datetime, int]:
        """Where it stands in the consumption order (grants of every status are listed so)."""
        return (self.priority, self.expires_at or NEVER, self.created_at, self.id)

    def empty(self, how: str) -> int:
        """Take all that remains, ending the grant `how`; what it held."""
        taken, self.remaining, self.ended = self.remaining, 0, how
        return taken

    def dead(self, now: datetime) -> bool:
        """Can take no credits back: lapsed or voided."""
        return self.lapsed(now) or self.ended in (EXPIRED, VOIDED)

    def give_back(self, credits: int) -> None:
        self.remaining += credits
        self.ended = None


@dataclass
class ModelHold:
    id: int
    amount: int
    parts: list[tuple[ModelGrant, int]]  # what it took from each grant
    expires_at: datetime
    status: str = ACTIVE

    def settle(self, capture: int, now: datetime, how: str) -> None:
        """Keep `capture` credits, dead grants' first, and give the rest back."""
        order = sorted(self.parts, key=lambda part: (not part[0].dead(now), part[0].order()))
        for grant, took in order:
            kept = min(took, capture)
            capture -= kept
            if took > kept and not grant.dead(now):
                grant.give_back(took - kept)
        self.status = how


@dataclass
class Wallet:
    grants: dict[int, ModelGrant] = field(default_factory=dict)
    holds: dict[int, ModelHold] = field(default_factory=dict)

    @property
    def held(self) -> int:
        return sum(hold.amount for hold in self.holds.values() if hold.status == ACTIVE)

    def release_due(self, now: datetime) -> int:
        """The worker's release of every active hold past its expiry; how many."""
        due = [h for h in self.holds.values() if h.status == ACTIVE and h.expires_at <= now]
        for hold in due:
            hold.settle(0, now, EXPIRED)
        return len(due)

    def in_order(self) -> list[ModelGrant]:
        return sorted(self.grants.values(), key=ModelGrant.order)

    def balance(self, now: datetime) -> int:
        return sum(grant.shown_remaining(now) for grant in self.grants.values())

    def take(
        self, amount: int, now: datetime, prefer: int | None = None
    ) -> list[tuple[ModelGrant, int]] | None:
        """Debit `amount` from spendable grants in consumption order, grant `prefer` first;
        None (and nothing taken) if they hold less."""
        if self.balance(now) < amount:
            return None
        taken = []
        ordered = sorted(self.in_order(), key=lambda grant: grant.id != prefer)
        for grant in (g for g in ordered if g.spendable(now)):
            if amount == 0:
                break
            share = min(grant.remaining, amount)
            grant.remaining -= share
            if grant.remaining == 0:
                grant.ended = DEPLETED
            amount -= share
            taken.append((grant, share))
        return taken

    def void(self, grant_id: int, now: datetime) -> bool:
        """Remove what remains of a spendable grant; False (nothing done) for any other."""
        grant = self.grants[grant_id]
        if not grant.spendable(now):
            return False
        grant.empty(VOIDED)
        return True

    def sweep(self, now: datetime) -> int:
        """End every lapsed grant that still holds credits; how many."""
        lapsed = [g for g in self.grants.values() if g.remaining > 0 and g.lapsed(now)]
        for grant in lapsed:
            grant.empty(EXPIRED)
        return len(lapsed)

    def expiring(self, now: datetime) -> list[tuple[int, datetime]]:
        """(credits, when) of the next expiry times of spendable grants, soonest first."""
        due: dict[datetime, int] = defaultdict(int)
        for grant in self.grants.values():
            if grant.expires_at is not None and grant.spendable(now):
                due[grant.expires_at] += grant.remaining
        return [(due[at], at) for at in sorted(due)[:EXPIRING_SHOWN]]

    def shown(self, now: datetime) -> list[tuple[int, int, str]]:
        """(id, remaining, status) of every grant as GET .../grants lists them."""
        return [(g.id, g.shown_remaining(now), g.status(now)) for g in self.in_order()]
