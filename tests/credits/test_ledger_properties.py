"""A stateful property test of the ledger through the HTTP API.

Hypothesis drives random adds, spends, keyed spends, replays and concurrent
batches against a model of every wallet; afterwards `billing verify-ledger`
must find every invariant holding.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from billing.auth.principals import Role
from billing.auth.tokens import issue_token
from billing.core.config import Settings
from billing.credits.verify import verify_ledger
from billing.http.app import create_app
from tests.support.credits import CREDITS

T = TypeVar("T")
USERS = 3
user_bases = itertools.count(1000, USERS)
amounts = st.integers(min_value=1, max_value=60)
users = st.integers(min_value=0, max_value=USERS - 1)


class LedgerMachine(RuleBasedStateMachine):
    keyed_requests = Bundle("keyed_requests")

    def __init__(self, app_settings: Settings) -> None:
        super().__init__()
        self.app_settings = app_settings
        self.runner = asyncio.Runner()
        self.app = create_app(self.app_settings)
        transport = httpx.ASGITransport(app=self.app)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://ledger.test")
        self.base = next(user_bases)
        self.model = dict.fromkeys(range(USERS), 0)
        self.admin = self._bearer(1, admin=True)
        self.keys = itertools.count()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coroutine)

    def _bearer(self, user_id: int, *, admin: bool = False) -> dict[str, str]:
        role: Role = "admin" if admin else "user"
        token = issue_token(self.app_settings, user_id, role, timedelta(hours=1))
        return {"Authorization": f"Bearer {token}"}

    def _spend(self, user: int, amount: int, key: str | None = None) -> httpx.Response:
        headers = self._bearer(self.base + user) | ({"Idempotency-Key": key} if key else {})
        return self._run(
            self.client.post(
                f"{CREDITS}/{self.base + user}/spend", json={"amount": amount}, headers=headers
            )
        )

    def _expect_spend(self, response: httpx.Response, user: int, amount: int) -> None:
        if self.model[user] >= amount:
            assert response.status_code == 200, response.text
            self.model[user] -= amount
            assert response.json()["balance"] == self.model[user]
        else:
            assert response.status_code == 402, response.text
            assert response.json()["balance"] == self.model[user]

    @initialize()
    def start(self) -> None:
        assert all(balance == 0 for balance in self.model.values())

    @rule(user=users, amount=st.integers(min_value=1, max_value=200))
    def add(self, user: int, amount: int) -> None:
        response = self._run(
            self.client.post(
                f"{CREDITS}/{self.base + user}/add",
                json={"amount": amount, "reason": "property test"},
                headers=self.admin,
            )
        )
        assert response.status_code == 200, response.text
        self.model[user] += amount
        assert response.json()["balance"] == self.model[user]

    @rule(user=users, amount=amounts)
    def spend(self, user: int, amount: int) -> None:
        self._expect_spend(self._spend(user, amount), user, amount)

    @rule(target=keyed_requests, user=users, amount=amounts)
    def keyed_spend(self, user: int, amount: int) -> tuple[int, int, str, httpx.Response]:
        key = f"key-{next(self.keys)}"
        response = self._spend(user, amount, key)
        self._expect_spend(response, user, amount)
        return user, amount, key, response

    @rule(request=keyed_requests)
    def replay(self, request: tuple[int, int, str, httpx.Response]) -> None:
        user, amount, key, original = request
        again = self._spend(user, amount, key)
        assert again.status_code == original.status_code
        assert again.content == original.content
        assert again.headers["Idempotent-Replayed"] == "true"

    @rule(request=consumes(keyed_requests), other_amount=amounts)
    def reuse_key_for_another_amount(
        self, request: tuple[int, int, str, httpx.Response], other_amount: int
    ) -> None:
        user, amount, key, _ = request
        if other_amount == amount:
            return
        response = self._spend(user, other_amount, key)
        assert response.status_code == 409
        assert response.json()["code"] == "idempotency_conflict"

    @rule(user=users, batch=st.lists(amounts, min_size=2, max_size=8))
    def concurrent_batch(self, user: int, batch: list[int]) -> None:
        async def spend_all() -> list[httpx.Response]:
            headers = self._bearer(self.base + user)
            url = f"{CREDITS}/{self.base + user}/spend"
            return await asyncio.gather(
                *(self.client.post(url, json={"amount": a}, headers=headers) for a in batch)
            )

        before = self.model[user]
        responses = self._run(spend_all())
        spent = sum(a for a, r in zip(batch, responses, strict=True) if r.status_code == 200)
        assert all(r.status_code in (200, 402) for r in responses)
        assert spent <= before
        self.model[user] = before - spent
        for amount, response in zip(batch, responses, strict=True):
            if response.status_code == 402:
                assert amount > self.model[user]

    @invariant()
    def balances_match_the_model(self) -> None:
        for user, expected in self.model.items():
            response = self._run(
                self.client.get(f"{CREDITS}/{self.base + user}", headers=self.admin)
            )
            assert response.json()["balance"] == expected

    def teardown(self) -> None:
        async def verify_and_close() -> None:
            async with self.app.state.database.sessions() as session, session.begin():
                report = await verify_ledger(session)
            assert report.ok, report.failures
            await self.client.aclose()
            await self.app.state.database.dispose()

        self._run(verify_and_close())
        self.runner.close()


def test_ledger_state_machine(settings: Settings) -> None:
    run_state_machine_as_test(
        lambda: LedgerMachine(settings),
        settings=hypothesis_settings(
            max_examples=int(os.environ.get("LEDGER_EXAMPLES", "12")),
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )

    verified = subprocess.run(
        [sys.executable, "-m", "billing", "verify-ledger"],
        env={**os.environ, "DATABASE_URL": settings.DATABASE_URL, "BILLING_ENV": "development"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert "ledger OK" in verified.stdout
