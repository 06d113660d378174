"""A property of balance alerts through the HTTP API: for any run of credits, spends,
holds and their releases on a wallet with any threshold, the service tells
`credits.low` exactly for the debits that take the balance from at or above the
threshold to below it, and `credits.depleted` exactly for those that leave 0."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from billing.auth.tokens import issue_token
from billing.core.config import Settings
from billing.credits.events import DEPLETED, LOW
from billing.db.outbox import OutboxMessage
from billing.http.app import create_app
from tests.support.credits import CREDITS

users = itertools.count(5000)
operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "spend", "hold", "release"]), st.integers(min_value=1, max_value=80)
    ),
    max_size=20,
)


def expected(threshold: int, steps: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The oracle: what each accepted debit (and only a debit) should tell. A hold takes
    from what can be spent as a spend does; releasing the newest one gives it back."""
    told: list[tuple[str, int]] = []
    balance, held = 0, []
    for kind, amount in steps:
        if kind in ("add", "release"):
            balance += amount if kind == "add" else (held.pop() if held else 0)
            continue
        if amount > balance:
            continue  # refused: 402, nothing moves
        before, balance = balance, balance - amount
        held += [amount] if kind == "hold" else []
        if before >= threshold > balance:
            told.append((LOW, balance))
        if balance == 0:
            told.append((DEPLETED, 0))
    return told


@given(threshold=st.integers(min_value=1, max_value=100), steps=operations)
@hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_crossings_are_told_exactly(
    settings: Settings, threshold: int, steps: list[tuple[str, int]]
) -> None:
    asyncio.run(_check(settings, next(users), threshold, steps))


async def _check(
    settings: Settings, user: int, threshold: int, steps: list[tuple[str, int]]
) -> None:
    app = create_app(settings)
    token = issue_token(settings, 1, "admin", timedelta(minutes=5))
    admin = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://watch.test") as client:
        put = await client.put(
            f"{CREDITS}/{user}/settings", json={"low_balance_threshold": threshold}, headers=admin
        )
        assert put.status_code == 200, put.text
        holds: list[str] = []
        for kind, amount in steps:
            await _step(client, admin, user, (kind, amount), holds)
    async with app.state.database.sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.user_id == user, OutboxMessage.type.in_((LOW, DEPLETED)))
                .order_by(OutboxMessage.id)
            )
        ).all()
    await app.state.database.dispose()
    told = [(row.type, json.loads(row.body)["data"]["balance"]) for row in rows]
    assert told == expected(threshold, steps)


async def _step(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    user: int,
    step: tuple[str, int],
    holds: list[str],
) -> None:
    kind, amount = step
    if kind == "release":
        if holds:
            path = f"{CREDITS}/{user}/holds/{holds.pop()}/release"
            assert (await client.post(path, headers=admin)).status_code == 200
        return
    path = {"add": "add", "spend": "spend", "hold": "holds"}[kind]
    body: dict[str, Any] = {"amount": amount} | ({"reason": "test"} if kind == "add" else {})
    reply = await client.post(f"{CREDITS}/{user}/{path}", json=body, headers=admin)
    assert reply.status_code in (200, 201, 402), reply.text
    if reply.status_code == 201:
        holds.append(reply.json()["id"])
