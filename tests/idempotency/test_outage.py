"""Idempotency keys through a database outage: a request that could not store or release
its key (or could not tell whether its claim committed) settles it once the database
answers, so its caller's retry is answered then, not 409 until the claim goes stale."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.responses import Response

from billing.idempotency import store
from billing.idempotency.store import Claim, IdempotencyStore
from tests.conftest import Credentials
from tests.support.credits import add, assert_problem, balance, spend


@pytest.fixture(autouse=True)
def quick_settling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "SETTLE_RETRY_SECONDS", 0.05)


@pytest.fixture
def lose_next_commit_answer() -> Iterator[Callable[[], None]]:
    """Once called, the next commit happens but its answer is lost with the connection."""
    armed: list[bool] = []

    def lose(_: Session) -> None:
        if armed:
            armed.pop()
            raise ConnectionResetError("the connection was lost after COMMIT")

    event.listen(Session, "after_commit", lose)
    yield lambda: armed.append(True)
    event.remove(Session, "after_commit", lose)


async def retried(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    """The spend retried as its caller would, while the key is still in progress."""
    for _ in range(40):
        response = await spend(client, headers, 1, 10)
        if response.status_code != 409:
            return response
        assert_problem(response, 409, "idempotency_in_progress")
        await asyncio.sleep(0.05)
    raise AssertionError("the key stayed in progress")


async def test_a_response_the_outage_kept_from_storing_is_replayed_soon(
    client: httpx.AsyncClient, creds: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spend applied, then storing its response failed: the caller saw 503."""
    complete = IdempotencyStore.complete
    failures = [ConnectionRefusedError("the database is down")]

    async def fails_once(store: IdempotencyStore, claim: Claim, response: Response) -> None:
        if failures:
            raise failures.pop()
        await complete(store, claim, response)

    await add(client, creds.admin(), 1, 100)
    monkeypatch.setattr(IdempotencyStore, "complete", fails_once)
    headers = {**creds.bearer(1), "Idempotency-Key": "outage"}
    assert_problem(await spend(client, headers, 1, 10), 503, "service_unavailable")
    replay = await retried(client, headers)
    assert replay.status_code == 200, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert await balance(client, creds.bearer(1), 1) == 90


async def test_a_claim_whose_commit_went_unanswered_is_released_soon(
    client: httpx.AsyncClient,
    creds: Credentials,
    lose_next_commit_answer: Callable[[], None],
) -> None:
    """The claim committed but the request failed before running: its retry runs."""
    await add(client, creds.admin(), 1, 100)
    lose_next_commit_answer()
    headers = {**creds.bearer(1), "Idempotency-Key": "unanswered"}
    assert_problem(await spend(client, headers, 1, 10), 503, "service_unavailable")
    assert await balance(client, creds.bearer(1), 1) == 100
    response = await retried(client, headers)
    assert response.status_code == 200, response.text
    assert "Idempotent-Replayed" not in response.headers
    assert await balance(client, creds.bearer(1), 1) == 90
