"""The fast lanes (billing/http/fast_lanes.py): a spend or a webhook delivery served past
FastAPI's routing answers exactly as the full route does, and posts exactly once.

The reference is the same app, on the same database, with FastLanes taken out of its
middleware: every request then takes the full FastAPI route, as before the lanes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy import select
from structlog.testing import capture_logs

from billing.core import correlation
from billing.core.config import Settings
from billing.core.correlation import HEADER as REQUEST_ID
from billing.core.correlation import SERVER_HEADER as SERVER_REQUEST_ID
from billing.credits import service
from billing.db.engine import Database
from billing.idempotency.store import REPLAY_HEADER
from billing.webhooks.models import WebhookEvent
from tests.conftest import WEBHOOK_SECRET, Credentials, asgi_client
from tests.credits.test_validation import chunks, ledger, padded_body
from tests.support.credits import CREDITS, add, assert_problem, spend
from tests.support.lanes import full_route_client
from tests.support.stripe_events import sign, stripe_event
from tests.webhooks.test_routes import URL as WEBHOOK
from tests.webhooks.test_routes import deliver

USER, FUNDS, AMOUNT = 7, 1000, 5
SPEND = f"{CREDITS}/{USER}/spend"
SPEND_ROUTE = "/api/financial/credits/{user_id}/spend"
BODY_LIMIT, KEY = 64 * 1024, "Idempotency-Key"
DEAD_SQLITE = "sqlite+aiosqlite:////nonexistent/billing.db"
DEAD_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/billing"  # nothing listens


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """conftest's settings, with a webhook secret for the deliveries below."""
    return settings.model_copy(update={"STRIPE_WEBHOOK_SECRET": SecretStr(WEBHOOK_SECRET)})


@pytest.fixture
async def funded(client: httpx.AsyncClient, creds: Credentials) -> None:
    response = await add(client, creds.admin(), USER, FUNDS)
    assert response.status_code == 200, response.text


def document(**fields: Any) -> bytes:
    return json.dumps({"amount": AMOUNT, **fields}).encode()


@dataclass(frozen=True)
class Case:
    """A spend request, and the status the full route answers it with."""

    body: bytes
    status: int
    content_type: str | None = "application/json"
    who: str = "self"  # self, other, admin, service, nobody, forged
    user: str = str(USER)
    headers: tuple[tuple[str, str], ...] = ()
    streamed: bool = False  # chunked, without a Content-Length
    fault: bool = False  # the ledger raises an unexpected error
    raised: bool = False  # the lane raises the error (else it serves a 200 or passes on)


SPENT = {"transaction_id": "int", "balance": "int", "created_at": "str"}  # and the request's
CODES = {401: "unauthenticated", 402: "insufficient_credits", 403: "forbidden"}
CODES |= {413: "payload_too_large", 422: "validation_error", 500: "internal_error"}
BIG = padded_body("spend", BODY_LIMIT + 1)
CASES = {
    "spend": Case(document(), 200),
    "description and metadata": Case(document(description="d", metadata={"k": "v"}), 200),
    "idempotency_key null": Case(document(idempotency_key=None), 200),
    "content type in capitals": Case(document(), 200, "Application/JSON; charset=utf-8"),
    "a +json content type": Case(document(), 200, "application/merchant+json"),
    "admin token": Case(document(), 200, who="admin"),
    "service API key": Case(document(), 200, who="service"),
    "amount 0": Case(document(amount=0), 422),
    "amount '5'": Case(document(amount="5"), 422),
    "amount 1.5": Case(document(amount=1.5), 422),
    "amount 2^70": Case(document(amount=2**70), 422),
    "amount NaN": Case(b'{"amount": NaN}', 422),
    "unknown field": Case(document(currency="usd"), 422),
    "a list": Case(b"[1]", 422),
    "invalid JSON": Case(b'{"amount": 5', 422),
    "empty body": Case(b"", 422),
    "lone surrogate": Case(b'{"amount": 5, "description": "\\ud800"}', 422),
    "JSON as text/plain": Case(document(), 422, "text/plain"),
    "no content type": Case(document(), 422, None),
    "user id 07": Case(document(), 422, user="07"),
    "user id abc": Case(document(), 422, user="abc", who="admin"),
    "empty Idempotency-Key": Case(document(), 422, headers=((KEY, ""),)),
    "keys differ": Case(document(idempotency_key="a"), 422, headers=((KEY, "b"),)),
    "no credentials": Case(document(), 401, who="nobody", raised=True),
    "no credentials, a list": Case(b"[1]", 401, who="nobody", raised=True),
    "forged token": Case(document(), 401, who="forged", raised=True),
    "another user": Case(document(), 403, who="other", raised=True),
    "another user, amount 0": Case(document(amount=0), 403, who="other"),
    "insufficient credits": Case(document(amount=FUNDS + 1), 402, raised=True),
    "over 64 KiB": Case(BIG, 413),
    "over 64 KiB, chunked": Case(BIG, 413, streamed=True, raised=True),
    "over 64 KiB, chunked, no credentials": Case(
        BIG, 401, who="nobody", streamed=True, raised=True
    ),
    "the same, keyed": Case(BIG, 401, who="nobody", streamed=True, headers=((KEY, "k"),)),
    "unexpected error": Case(document(), 500, fault=True, raised=True),
}
SPEND_CASES = [pytest.param(case, id=name) for name, case in CASES.items()]


async def caller(creds: Credentials, who: str) -> dict[str, str]:
    if who == "service":
        return await creds.api_key("service")
    return {
        "self": creds.bearer(USER),
        "other": creds.bearer(USER + 1),
        "admin": creds.admin(),
        "nobody": {},
        "forged": {"Authorization": "Bearer not-a-token"},
    }[who]


async def answer(http: httpx.AsyncClient, creds: Credentials, case: Case) -> dict[str, Any]:
    """The response, with what differs between two successful spends (ids, balance, time)
    reduced to its type, and the request's effect on the ledger."""
    before, history = await ledger(http, creds, USER)
    headers = {**await caller(creds, case.who), **dict(case.headers)}
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    url = f"{CREDITS}/{case.user}/spend"
    response = await http.post(
        url, content=chunks(case.body) if case.streamed else case.body, headers=headers
    )
    after, history_after = await ledger(http, creds, USER)
    body = response.json()
    if response.status_code == 200:
        assert body["balance"] == after
        body = {k: type(v).__name__ if k in SPENT else v for k, v in body.items()}
    return {
        "status": response.status_code,
        "content-type": response.headers.get("content-type"),
        "headers": sorted(response.headers.keys()),
        "body": body,
        "effect": (after - before, len(history_after) - len(history)),
    }


@pytest.mark.parametrize("case", SPEND_CASES)
async def test_the_lane_answers_every_spend_as_the_full_route_does(
    client: httpx.AsyncClient,
    full: httpx.AsyncClient,
    creds: Credentials,
    funded: None,
    case: Case,
    monkeypatch: pytest.MonkeyPatch,
    lanes_did: list[str],
) -> None:
    if case.fault:

        async def broken(*_: object) -> None:
            raise RuntimeError("a bug")

        monkeypatch.setattr(service, "post", broken)
    laned = await answer(client, creds, case)
    served = case.status == 200 and "application/json" in str(case.content_type).lower()
    assert ("served" in lanes_did, "raised" in lanes_did) == (served, case.raised), lanes_did
    assert laned == await answer(full, creds, case)
    assert laned["status"] == case.status, laned
    assert REQUEST_ID.lower() in laned["headers"]
    if case.status == 200:
        assert laned["content-type"] == "application/json"
        assert laned["body"] == SPENT | {"user_id": USER, "amount": AMOUNT}
        assert laned["effect"] == (-AMOUNT, 1)
    else:
        assert laned["content-type"] == "application/problem+json"
        assert laned["body"]["code"] == CODES[case.status]
        assert laned["effect"] == (0, 0)
    if case.status == 402:
        assert (laned["body"]["balance"], laned["body"]["required"]) == (FUNDS, FUNDS + 1)


async def test_an_unkeyed_and_a_keyed_spend_give_the_same_answer_once_each(
    client: httpx.AsyncClient, creds: Credentials, funded: None, lanes_did: list[str]
) -> None:
    lane = await spend(client, creds.bearer(USER), USER, 30, description="d")
    keyed = await spend(client, {**creds.bearer(USER), KEY: "parity"}, USER, 45, description="d")
    for response in (lane, keyed):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert len(response.headers[REQUEST_ID]) == 32
        assert REPLAY_HEADER.lower() not in response.headers
    assert lanes_did == ["served", "passed on"]
    assert sorted(lane.headers.keys()) == sorted(keyed.headers.keys())
    assert {k: type(v) for k, v in lane.json().items()} == {
        k: type(v) for k, v in keyed.json().items()
    }
    assert (lane.json()["balance"], keyed.json()["balance"]) == (FUNDS - 30, FUNDS - 75)
    balance, history = await ledger(client, creds, USER)
    assert (balance, [item["amount"] for item in history]) == (FUNDS - 75, [-45, -30, FUNDS])


async def test_a_body_idempotency_key_is_passed_on_and_replayed(
    client: httpx.AsyncClient, creds: Credentials, funded: None, lanes_did: list[str]
) -> None:
    body = {"amount": AMOUNT, "idempotency_key": "in-the-body"}
    first = await client.post(SPEND, json=body, headers=creds.bearer(USER))
    again = await client.post(SPEND, json=body, headers=creds.bearer(USER))
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert REPLAY_HEADER.lower() not in first.headers
    assert again.headers[REPLAY_HEADER] == "true"
    assert again.json() == first.json()
    assert lanes_did == ["passed on", "passed on"]
    balance, history = await ledger(client, creds, USER)
    assert (balance, len(history)) == (FUNDS - AMOUNT, 2)


@pytest.mark.parametrize("lanes", [True, False], ids=["lane", "full route"])
async def test_a_webhook_is_stored_once_and_a_forged_one_never(
    client: httpx.AsyncClient,
    full: httpx.AsyncClient,
    database: Database,
    lanes: bool,
    lanes_did: list[str],
) -> None:
    http = client if lanes else full
    payload, forged = stripe_event(), stripe_event()
    answers = [await deliver(http, payload, sign(payload, WEBHOOK_SECRET)) for _ in range(2)]
    for response, duplicate in zip(answers, (False, True), strict=True):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert REQUEST_ID.lower() in response.headers
        assert response.json() == {"received": True, "duplicate": duplicate}
    refused = await deliver(http, forged, sign(forged, "whsec_someone_else"))
    assert_problem(refused, 400, "invalid_signature")
    assert REQUEST_ID.lower() in refused.headers
    async with database.sessions() as session:
        ids = (await session.scalars(select(WebhookEvent.stripe_event_id))).all()
    assert list(ids) == [json.loads(payload)["id"]]
    assert lanes_did == (["served", "served", "raised"] if lanes else [])


async def test_lane_requests_are_counted_under_their_route_template(
    client: httpx.AsyncClient, creds: Credentials, funded: None
) -> None:
    labels = [(SPEND_ROUTE, "200"), (SPEND_ROUTE, "402"), (SPEND_ROUTE, "422"), (WEBHOOK, "200")]
    labels.append(("unmatched", "200"))  # what a request past FastAPI's routing would count as

    def counts() -> list[float]:
        total = "billing_http_requests_total"
        labelled = [{"method": "POST", "route": r, "status": s} for r, s in labels]
        return [REGISTRY.get_sample_value(total, label) or 0.0 for label in labelled]

    before = counts()
    assert (await spend(client, creds.bearer(USER), USER, AMOUNT)).status_code == 200
    assert (await spend(client, creds.bearer(USER), USER, FUNDS)).status_code == 402
    assert (await spend(client, creds.bearer(USER), USER, 0)).status_code == 422  # passed on
    payload = stripe_event()
    assert (await deliver(client, payload, sign(payload, WEBHOOK_SECRET))).status_code == 200
    assert [a - b for a, b in zip(counts(), before, strict=True)] == [1, 1, 1, 1, 0]


@pytest.mark.parametrize("lanes", [True, False], ids=["lane", "full route"])
async def test_a_log_line_carries_its_requests_id(
    settings: Settings, creds: Credentials, lanes: bool, lanes_did: list[str]
) -> None:
    """The database is down: the 503's log line names the request it was for, by the
    server's id, and the caller's id beside it."""
    dead = settings.model_copy(
        update={"DATABASE_URL": DEAD_SQLITE if settings.is_sqlite else DEAD_POSTGRES}
    )
    clients = asgi_client(dead) if lanes else full_route_client(dead)
    async with clients as http:
        with capture_logs(processors=[correlation.add_to_log]) as logs:
            headers = {**creds.bearer(USER), REQUEST_ID: "trace-42"}
            response = await http.post(SPEND, json={"amount": AMOUNT}, headers=headers)
    assert_problem(response, 503, "service_unavailable")
    assert (response.headers[REQUEST_ID], response.headers["retry-after"]) == ("trace-42", "1")
    logged = [log for log in logs if log["event"] == "database_unavailable"]
    ids = [(log.get("request_id"), log.get("caller_request_id")) for log in logged]
    assert ids == [(response.headers[SERVER_REQUEST_ID], "trace-42")], logs
    assert lanes_did == (["raised"] if lanes else [])


SANE_IDS = ["trace-1.a:b_c", "x" * 64]


@pytest.mark.parametrize("incoming", [*SANE_IDS, "has space", "x" * 65, ""])
async def test_the_lane_echoes_a_sane_request_id_and_replaces_any_other(
    client: httpx.AsyncClient, creds: Credentials, funded: None, incoming: str
) -> None:
    response = await spend(client, {**creds.bearer(USER), REQUEST_ID: incoming}, USER, AMOUNT)
    assert response.status_code == 200, response.text
    echoed = response.headers[REQUEST_ID]
    if incoming in SANE_IDS:
        assert echoed == incoming
    else:
        assert re.fullmatch("[0-9a-f]{32}", echoed), echoed  # a fresh one


async def test_the_lane_serves_an_app_mounted_under_a_prefix(
    client: httpx.AsyncClient, creds: Credentials, funded: None, lanes_did: list[str]
) -> None:
    """Behind a proxy's prefix (ASGI root_path) the path includes it; routing strips it,
    and so must the lanes, or every spend would quietly take the full route."""
    transport = client._transport  # type: ignore[attr-defined]
    app = transport.app
    mounted = httpx.ASGITransport(app=app, root_path="/billing")
    async with httpx.AsyncClient(transport=mounted, base_url="http://billing.test") as http:
        response = await http.post(
            f"/billing{SPEND}", json={"amount": AMOUNT}, headers=creds.bearer(USER)
        )
    assert response.status_code == 200, response.text
    assert lanes_did == ["served"]
    balance, _ = await ledger(client, creds, USER)
    assert balance == FUNDS - AMOUNT
