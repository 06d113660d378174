"""A state machine over the grant and hold API, checked after every step against a model
(`tests.support.grant_oracle`) written from the design, not from the implementation.

Each example gets a fresh database and app, driven over HTTP on a private event loop
(Hypothesis runs the rules synchronously). Time moves only through `CLOCK.offset`, in
whole hours, and grants expire on whole hours of the model's clock: the real seconds an
example takes can never put a grant on the other side of its expiry than the model says.
Callers use API keys, which the clock does not age.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from billing.core.config import Settings
from billing.core.times import CLOCK, Clock, utcnow
from billing.credits.accounts import PURCHASE
from billing.credits.grants import GrantTerms
from billing.credits.jobs import expire_due, release_due_holds
from billing.credits.models import CreditGrant
from billing.payments import recorded_payments
from billing.payments.clawback import claw_back
from billing.payments.recorded_payments import StripePayment, record_purchase
from tests.conftest import BACKENDS, Credentials, app_database, asgi_client, fresh_database
from tests.support.credits import CREDITS, assert_ledger_sound, assert_problem, grants
from tests.support.grant_oracle import (
    ACTIVE,
    CAPTURED,
    RELEASED,
    ModelGrant,
    ModelHold,
    Wallet,
    priority_for,
)

T = TypeVar("T")
USAGE = "/api/financial/usage"
USERS = (7001, 7002)
HOUR = timedelta(hours=1)
users = st.sampled_from(USERS)
picks = st.integers(min_value=0, max_value=10**6)  # an index into whatever exists, modulo
# (user, amount, an earlier key to use again or None for a new one, same user and amount)
usage_events = st.tuples(users, st.integers(1, 60), st.none() | picks, st.booleans())
# (amount, expires in hours of the model's clock or never, priority or the default, source)
DrawnTerms = tuple[int, int | None, int | None, str]
grant_terms = st.tuples(
    st.integers(1, 200),
    st.none() | st.sampled_from((1, 3, 24, 72)),
    st.none() | st.sampled_from((0, 10, 50, 100)),
    st.sampled_from(("admin", "promotion")),
)
examples = itertools.count()


@dataclass
class Bought:
    """A payment of `credits` cents that bought `credits` credits, and what was refunded
    (cents) and settled (credits taken back or recorded as lost) of it so far."""

    stripe_id: str
    user: int
    credits: int
    grant_id: int = 0
    refunded: int = 0
    settled: int = 0


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class GrantMachine(RuleBasedStateMachine):
    def __init__(self, backend: str, migrated: dict[str, str], workdir: Path) -> None:
        super().__init__()
        CLOCK.offset = timedelta(0)
        self.runner = asyncio.Runner()
        self.exits = AsyncExitStack()
        directory = workdir / f"example-{next(examples)}"
        directory.mkdir()
        settings = Settings(
            _env_file=None,
            BILLING_ENV="development",
            DATABASE_URL=self._run(fresh_database(backend, migrated, directory)),
            BILLING_DATA_DIR=directory,
            BILLING_RATE_LIMIT="100000/second",  # a machine calls far faster than a person
        )
        self.client = self._run(self.exits.enter_async_context(asgi_client(settings)))
        self.database = app_database(self.client)
        credentials = Credentials(settings, self.database)
        self.admin = self._run(credentials.api_key("admin"))
        self.service = self._run(credentials.api_key("service"))
        self.start, self.hours = utcnow(), 0
        self.wallets = {user: Wallet() for user in USERS}
        self.changed = set(USERS)  # wallets a step may have changed: the ones to check
        self.posted: dict[str, tuple[int, int, int]] = {}  # usage key -> user, amount, txn
        self.sent_keys: list[str] = []
        self.payments: list[Bought] = []
        self.new_keys = itertools.count()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coroutine)

    @property
    def now(self) -> datetime:
        """The model's clock: the server's, less the real seconds since the start."""
        return self.start + self.hours * HOUR

    def _post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        return self._run(self.client.post(url, json=body, headers=headers))

    def _wallet(self, user: int) -> Wallet:
        """The model of a wallet a step is about to change (or to find unchanged)."""
        self.changed.add(user)
        return self.wallets[user]

    def _grants(self) -> list[ModelGrant]:
        return [grant for wallet in self.wallets.values() for grant in wallet.grants.values()]

    def _lapsed_unswept(self) -> bool:
        return any(grant.remaining > 0 and grant.lapsed(self.now) for grant in self._grants())

    def _something_will_lapse(self) -> bool:
        """A grant or an active hold has an expiry still ahead."""
        return any(
            grant.expires_at is not None and grant.spendable(self.now) for grant in self._grants()
        ) or any(hold.expires_at > self.now for _, hold in self._holds(ACTIVE))

    @initialize(opening=st.lists(st.tuples(users, grant_terms), min_size=1, max_size=6))
    def open_grants(self, opening: list[tuple[int, DrawnTerms]]) -> None:
        """Start with grants to spend: most steps are then about more than an empty wallet."""
        for user, terms in opening:
            self.add(user, terms)

    @rule(user=users, terms=grant_terms)
    def add(self, user: int, terms: DrawnTerms) -> None:
        amount, expires_in, priority, source = terms
        expires_at = None if expires_in is None else self.now + expires_in * HOUR
        body: dict[str, Any] = {"amount": amount, "reason": "machine", "source": source}
        if priority is not None:
            body["priority"] = priority
        if expires_at is not None:
            body["expires_at"] = expires_at.isoformat()
        response = self._post(f"{CREDITS}/{user}/add", body, self.admin)
        assert response.status_code == 200, response.text
        opened = response.json()["grant"]
        model = ModelGrant(
            opened["id"],
            amount,
            priority_for(source, priority),
            expires_at,
            datetime.fromisoformat(opened["created_at"]),
        )
        got = (opened["amount"], opened["remaining"], opened["priority"], opened["status"])
        assert got == (amount, amount, model.priority, "active")
        assert (opened["source"], _time(opened["expires_at"])) == (source, expires_at)
        self._wallet(user).grants[model.id] = model

    @rule(user=users, amount=st.integers(1, 150))
    def spend(self, user: int, amount: int) -> None:
        self._spend(user, amount)

    @rule(user=users, beyond=st.integers(-1, 1))
    def spend_about_the_balance(self, user: int, beyond: int) -> None:
        self._spend(user, max(1, self._wallet(user).balance(self.now) + beyond))

    def _spend(self, user: int, amount: int) -> None:
        response = self._post(f"{CREDITS}/{user}/spend", {"amount": amount}, self.admin)
        wallet = self._wallet(user)
        if wallet.take(amount, self.now) is None:
            body = assert_problem(response, 402, "insufficient_credits")
            assert body["balance"] == wallet.balance(self.now)
            return
        assert response.status_code == 200, response.text
        assert response.json()["amount"] == amount
        # What can be spent after it: lapsed grants count for nothing, swept or not.
        assert response.json()["balance"] == wallet.balance(self.now)

    @rule(
        events=st.lists(usage_events, min_size=1, max_size=4),
        over=st.none() | st.tuples(users, picks),
    )
    def usage(
        self, events: list[tuple[int, int, int | None, bool]], over: tuple[int, int] | None
    ) -> None:
        """A batch of events, some reusing earlier keys, and maybe one for more than the
        wallet holds at its place in the batch."""
        # (user, amount, key); amount None: just over what the wallet holds by then
        specs: list[tuple[int, int | None, str]] = [self._event(*event) for event in events]
        if over is not None:
            specs.insert(over[1] % (len(specs) + 1), (over[0], None, self._new_key()))
        sent, expected = [], []
        for user, amount, key in specs:
            if amount is None:
                amount = self._wallet(user).balance(self.now) + 1
            sent.append({"user_id": user, "amount": amount, "idempotency_key": key})
            expected.append(self._expect_event(user, amount, key))
        response = self._post(USAGE, {"events": sent}, self.service)
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert [result["status"] for result in results] == expected
        for event, result in zip(sent, results, strict=True):
            self._record_event(event, result)

    def _new_key(self) -> str:
        return f"event-{next(self.new_keys)}"

    def _event(
        self, user: int, amount: int, earlier: int | None, same: bool
    ) -> tuple[int, int | None, str]:
        if earlier is None or not self.sent_keys:
            return user, amount, self._new_key()
        key = self.sent_keys[earlier % len(self.sent_keys)]
        if same and key in self.posted:
            user, amount, _ = self.posted[key]
        return user, amount, key

    def _expect_event(self, user: int, amount: int, key: str) -> str:
        """A key posted before replays (same user and amount) or conflicts; a new one (or
        one refused before) posts if the wallet can take it."""
        self.sent_keys.append(key)
        if key in self.posted:
            return "replayed" if self.posted[key][:2] == (user, amount) else "conflict"
        if self._wallet(user).take(amount, self.now) is None:
            return "insufficient_credits"
        self.posted[key] = (user, amount, 0)  # the transaction's id is known once answered
        return "posted"

    def _record_event(self, event: dict[str, Any], result: dict[str, Any]) -> None:
        key, status = event["idempotency_key"], result["status"]
        if status == "posted":
            self.posted[key] = (event["user_id"], event["amount"], result["transaction_id"])
        elif status == "replayed":
            assert result["transaction_id"] == self.posted[key][2]

    @precondition(lambda self: bool(self._grants()))
    @rule(pick=picks, through_other_user=st.booleans())
    def void(self, pick: int, through_other_user: bool) -> None:
        listed = self._grants()
        grant = listed[pick % len(listed)]
        user = next(user for user, wallet in self.wallets.items() if grant.id in wallet.grants)
        path_user = USERS[USERS.index(user) - 1] if through_other_user else user
        url = f"{CREDITS}/{path_user}/grants/{grant.id}/void"
        response = self._post(url, {"reason": "machine"}, self.admin)
        if through_other_user:
            assert_problem(response, 404, "not_found")
        elif self._wallet(user).void(grant.id, self.now):
            assert response.status_code == 200, response.text
            voided = response.json()["grant"]
            assert (voided["status"], voided["remaining"]) == ("voided", 0)
        else:
            assert_problem(response, 409, "conflict")

    @precondition(lambda self: self._something_will_lapse())
    @rule(hours=st.sampled_from((1, 2, 24)))
    def advance_the_clock(self, hours: int) -> None:
        self.hours += hours
        self.changed.update(USERS)
        CLOCK.offset = self.hours * HOUR

    @precondition(lambda self: self._lapsed_unswept())  # else it only slows shrinking down
    @rule()
    def sweep(self) -> None:
        expected = sum(self._wallet(user).sweep(self.now) for user in USERS)
        assert self._run(expire_due(self.database)) == expected

    @rule(user=users, credits=st.integers(1, 200))
    def buy(self, user: int, credits: int) -> None:
        """A card payment of 1 cent a credit, recorded as its webhook would record it."""
        payment = Bought(f"pi_machine_{next(self.new_keys)}", user, credits)
        grant_id, created_at = self._run(self._record_purchase(payment))
        model = ModelGrant(grant_id, credits, priority_for("purchase", None), None, created_at)
        self._wallet(user).grants[grant_id] = model
        payment.grant_id = grant_id
        self.payments.append(payment)

    async def _record_purchase(self, bought: Bought) -> tuple[int, datetime]:
        payment = StripePayment(bought.stripe_id, "checkout", bought.user, bought.credits, "usd")
        async with self.database.sessions() as session, session.begin():
            await record_purchase(
                session,
                PURCHASE,
                payment,
                credits=bought.credits,
                key=f"buy:{bought.stripe_id}",
                grant=GrantTerms("purchase"),
            )
            opened = await session.execute(
                select(CreditGrant.id, CreditGrant.created_at).where(
                    CreditGrant.reference == bought.stripe_id
                )
            )
            grant_id, created_at = opened.one()
        return grant_id, created_at

    @precondition(lambda self: bool(self.payments))
    @rule(pick=picks, cents=st.integers(1, 250))
    def refund(self, pick: int, cents: int) -> None:
        """Money back on a payment: its credits back in proportion, its own grant first,
        never more than the wallet can spend."""
        bought = self.payments[pick % len(self.payments)]
        bought.refunded = min(bought.credits, bought.refunded + cents)
        wallet = self._wallet(bought.user)
        due = bought.refunded - bought.settled  # a credit a cent: refunded cents in credits
        take = min(due, wallet.balance(self.now))
        bought.settled += due
        wallet.take(take, self.now, prefer=bought.grant_id)
        taken = self._run(self._claw_back(bought, f"re_{next(self.new_keys)}"))
        assert taken == take

    async def _claw_back(self, bought: Bought, refund_id: str) -> int:
        async with self.database.sessions() as session, session.begin():
            payment = await recorded_payments.get(session, bought.stripe_id, for_update=True)
            assert payment is not None
            payment.amount_refunded = bought.refunded
            settled = await claw_back(session, payment, key=refund_id, reference=refund_id)
        return settled.take

    @rule(user=users, amount=st.integers(1, 150), hours=st.sampled_from((1, 24)))
    def place_hold(self, user: int, amount: int, hours: int) -> None:
        body = {"amount": amount, "expires_in": hours * 3600}
        response = self._post(f"{CREDITS}/{user}/holds", body, self.service)
        wallet = self._wallet(user)
        parts = wallet.take(amount, self.now)
        if parts is None:
            assert_problem(response, 402, "insufficient_credits")
            return
        assert response.status_code == 201, response.text
        placed = response.json()
        assert (placed["amount"], placed["status"]) == (amount, "active")
        assert placed["balance"] == wallet.balance(self.now)
        wallet.holds[placed["id"]] = ModelHold(placed["id"], amount, parts, self.now + hours * HOUR)

    @precondition(lambda self: bool(self._holds()))
    @rule(pick=picks, capture=st.none() | st.integers(1, 160), release=st.booleans())
    def settle_hold(self, pick: int, capture: int | None, release: bool) -> None:
        """Capture (all or `capture`) or release any hold, settled or not, expired or not."""
        holds = self._holds()
        user, hold = holds[pick % len(holds)]
        action, body = ("release", {}) if release else ("capture", {"amount": capture})
        url = f"{CREDITS}/{user}/holds/{hold.id}/{action}"
        response = self._post(url, {k: v for k, v in body.items() if v is not None}, self.service)
        wallet = self._wallet(user)
        if hold.status != ACTIVE or hold.expires_at <= self.now:
            assert_problem(response, 409, "hold_not_active")
            return
        kept = 0 if release else hold.amount if capture is None else capture
        if kept > hold.amount:
            assert_problem(response, 422, "validation_error")
            return
        hold.settle(kept, self.now, RELEASED if release else CAPTURED)
        assert response.status_code == 200, response.text
        settled = response.json()
        assert (settled["hold"]["status"], settled["hold"]["captured"]) == (hold.status, kept)
        assert settled["balance"] == wallet.balance(self.now)

    @precondition(lambda self: any(h.expires_at <= self.now for _, h in self._holds(ACTIVE)))
    @rule()
    def release_due_holds(self) -> None:
        expected = sum(self._wallet(user).release_due(self.now) for user in USERS)
        assert self._run(release_due_holds(self.database)) == expected

    def _holds(self, status: str | None = None) -> list[tuple[int, ModelHold]]:
        return [
            (user, hold)
            for user, wallet in self.wallets.items()
            for hold in wallet.holds.values()
            if status in (None, hold.status)
        ]

    @invariant()
    def the_api_shows_what_the_oracle_says(self) -> None:
        for user in sorted(self.changed):
            self._run(self._check_wallet(user, self.wallets[user]))
        self.changed.clear()
        self._run(assert_ledger_sound(self.database))

    async def _check_wallet(self, user: int, wallet: Wallet) -> None:
        response = await self.client.get(f"{CREDITS}/{user}", headers=self.admin)
        assert response.status_code == 200, response.text
        shown = response.json()
        assert (shown["balance"], shown["held"]) == (wallet.balance(self.now), wallet.held)
        expiring = [(soon["amount"], _time(soon["expires_at"])) for soon in shown["expiring"]]
        assert expiring == wallet.expiring(self.now)
        listed = await grants(self.client, self.admin, user)
        assert [(g["id"], g["remaining"], g["status"]) for g in listed] == wallet.shown(self.now)

    def teardown(self) -> None:
        try:
            self._run(self.exits.aclose())
            self.runner.close()
        finally:
            CLOCK.offset = timedelta(0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_grants_behave_as_the_oracle_says(
    backend: str, migrated: dict[str, str], tmp_path: Path, clock: Clock
) -> None:
    run_state_machine_as_test(
        lambda: GrantMachine(backend, migrated, tmp_path),
        settings=hypothesis_settings(
            max_examples=int(os.environ.get("GRANT_EXAMPLES", "30")),
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
