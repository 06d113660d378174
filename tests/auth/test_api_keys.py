"""What a process remembers of API keys (`KnownKeys`), and how often it asks the database."""

from __future__ import annotations

import asyncio
import gc
import time

import httpx
from sqlalchemy import event

from billing.auth.api_keys import ACTIVE_KEY, VERIFIED_KEY_SECONDS, KnownKeys
from billing.auth.principals import Principal
from billing.db.engine import Database
from tests.auth.test_auth import USER, call, fund
from tests.conftest import Credentials

PRINCIPAL = Principal(role="service", api_key_id=7)


async def test_a_verified_key_is_trusted_for_a_second_then_asked_again() -> None:
    known = KnownKeys()
    principal = Principal(role="service", api_key_id=7)
    known.verified("bk_one", principal)
    assert known.trusted("bk_one") == principal
    assert known.trusted("bk_other") is None
    await asyncio.sleep(VERIFIED_KEY_SECONDS)
    assert known.trusted("bk_one") is None
    assert known.identity("bk_one") == principal.scope  # the rate limit still knows it


async def test_requests_that_need_a_key_at_once_share_one_lookup() -> None:
    known, asked, answer = KnownKeys(), [], asyncio.Event()

    async def ask() -> Principal | None:
        asked.append(1)
        await answer.wait()
        return PRINCIPAL

    waiting = [asyncio.ensure_future(known.ask_once("bk_one", ask)) for _ in range(20)]
    other = asyncio.ensure_future(known.ask_once("bk_other", ask))
    await asyncio.sleep(0.01)
    waiting[0].cancel()  # a request that went away leaves the lookup to the others
    answer.set()
    assert await asyncio.gather(*waiting[1:], other) == [PRINCIPAL] * 20
    assert len(asked) == 2  # one per key
    await known.ask_once("bk_one", ask)
    assert len(asked) == 3  # once answered, the next need asks again


async def test_a_failed_lookup_fails_every_request_waiting_on_it_and_is_asked_again() -> None:
    known, asked = KnownKeys(), []

    async def ask() -> Principal | None:
        asked.append(1)
        await asyncio.sleep(0.01)
        if len(asked) == 1:
            raise ConnectionError("the database went away")
        return PRINCIPAL

    waiting = [known.ask_once("bk_one", ask) for _ in range(5)]
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert [type(result) for result in results] == [ConnectionError] * 5
    assert await known.ask_once("bk_one", ask) == PRINCIPAL
    assert len(asked) == 2


async def test_a_key_whose_trust_ran_out_is_looked_up_once_by_concurrent_requests(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    concurrent = 30
    headers = await creds.api_key("service")
    await fund(client, creds, USER, 10)
    lookups: list[object] = []

    def record(_connection: object, statement: object, *_: object) -> None:
        if statement is ACTIVE_KEY:
            lookups.append(statement)

    async def balance() -> int:
        return (await call(client, "balance", USER, headers)).status_code

    assert await balance() == 200  # verified, then trusted for a second
    await asyncio.sleep(VERIFIED_KEY_SECONDS)
    event.listen(database.engine.sync_engine, "before_execute", record)
    started = time.monotonic()
    try:
        statuses = await asyncio.gather(*(balance() for _ in range(concurrent)))
    finally:
        event.remove(database.engine.sync_engine, "before_execute", record)
    assert statuses == [200] * concurrent
    # One lookup, and one more for each second of trust that ran out meanwhile on a slow
    # machine: never one per request.
    assert len(lookups) <= 1 + (time.monotonic() - started) // VERIFIED_KEY_SECONDS < concurrent


async def test_a_lookup_that_fails_after_its_requests_went_away_reports_nothing() -> None:
    known, done, reported = KnownKeys(), asyncio.Event(), []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: reported.append(context))

    async def ask() -> Principal | None:
        try:
            await asyncio.sleep(0.01)
            raise ConnectionError("the database went away")
        finally:
            done.set()

    waiting = asyncio.ensure_future(known.ask_once("bk_one", ask))
    await asyncio.sleep(0)
    waiting.cancel()
    await done.wait()
    await asyncio.sleep(0)  # the lookup's end is noted
    del waiting
    gc.collect()  # an exception never retrieved is reported when its task is collected
    loop.set_exception_handler(None)
    assert reported == []
