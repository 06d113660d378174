"""GET /api/admin/audit: admins only, newest first, filtered, a page at a time; and
GET /api/admin/audit/chain: the hash chain verified now, its head, or where it breaks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from billing.audit.models import AuditEntry
from billing.db.engine import Database
from tests.conftest import Credentials
from tests.support.audit import AUDIT, empty_audit_log, entries, seal_everything, tamper
from tests.support.credits import assert_problem

T0 = datetime(2026, 11, 1, tzinfo=UTC)
# (actor, action, target, user_id, hours after T0)
ROWS = [
    ("admin:1", "credit.admin_grant", "user:5", 5, 0),
    ("user:5", "credit.spend", "user:5", 5, 1),
    ("stripe", "subscription.created", "sub_1", 5, 2),
    ("stripe", "payment.created", "in_1", 6, 3),
    ("admin:1", "webhook.replayed", "evt_1", None, 4),
    ("key:3", "credit.spend", "user:6", 6, 5),
]


@pytest.fixture
async def seeded(database: Database) -> list[int]:
    """The entries of ROWS, one an hour from T0; their ids, oldest first."""
    await empty_audit_log(database)
    ids: list[int] = []
    async with database.sessions() as session, session.begin():
        for actor, action, target, user_id, hours in ROWS:
            values = {
                "created_at": T0 + timedelta(hours=hours),
                "actor": actor,
                "action": action,
                "target": target,
                "user_id": user_id,
                "request_id": f"req-{hours}",
                "caller_request_id": f"caller-{hours}" if actor != "stripe" else None,
                "details": {"n": hours},
            }
            inserted = await session.execute(
                insert(AuditEntry).values(values).returning(AuditEntry.id)
            )
            ids.append(inserted.scalar_one())
    return ids


async def listed(client: httpx.AsyncClient, creds: Credentials, **params: Any) -> list[int]:
    response = await client.get(AUDIT, params=params, headers=creds.admin())
    assert response.status_code == 200, response.text
    return [entry["id"] for entry in response.json()["data"]]


async def test_admins_see_the_log_newest_first_with_every_field(
    client: httpx.AsyncClient, creds: Credentials, database: Database, seeded: list[int]
) -> None:
    await seal_everything(database)
    body = (await client.get(AUDIT, headers=creds.admin())).json()
    assert [entry["id"] for entry in body["data"]] == list(reversed(seeded))
    assert (body["has_more"], body["next_cursor"]) == (False, None)
    oldest = body["data"][-1]
    assert oldest["created_at"].startswith("2026-11-01T00:00:00")
    assert {key: oldest[key] for key in ("actor", "action", "target", "user_id")} == {
        "actor": "admin:1",
        "action": "credit.admin_grant",
        "target": "user:5",
        "user_id": 5,
    }
    assert (oldest["request_id"], oldest["caller_request_id"]) == ("req-0", "caller-0")
    assert (oldest["details"], oldest["seq"]) == ({"n": 0}, 1)
    by_stripe = body["data"][-3]
    assert (by_stripe["request_id"], by_stripe["caller_request_id"]) == ("req-2", None)
    assert oldest["prev_hash"] == "0" * 64
    assert body["data"][-2]["prev_hash"] == oldest["hash"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"actor": "stripe"}, [3, 2]),
        ({"action": "credit.spend"}, [5, 1]),
        ({"target": "user:5"}, [1, 0]),
        ({"user_id": 6}, [5, 3]),
        ({"from": T0 + timedelta(hours=4)}, [5, 4]),  # inclusive
        ({"to": T0 + timedelta(hours=1)}, [0]),  # exclusive
        ({"from": T0 + timedelta(hours=1), "to": T0 + timedelta(hours=3)}, [2, 1]),
        ({"action": "credit.spend", "user_id": 5}, [1]),
        ({"actor": "nobody"}, []),
    ],
)
async def test_filters_narrow_the_list(
    client: httpx.AsyncClient,
    creds: Credentials,
    seeded: list[int],
    params: dict[str, Any],
    expected: list[int],
) -> None:
    query = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items()}
    assert await listed(client, creds, **query) == [seeded[i] for i in expected]


async def test_pages_follow_the_cursor_to_the_end(
    client: httpx.AsyncClient, creds: Credentials, seeded: list[int]
) -> None:
    seen: list[int] = []
    cursor = None
    for _ in range(3):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(AUDIT, params=params, headers=creds.admin())).json()
        seen += [entry["id"] for entry in body["data"]]
        cursor = body["next_cursor"]
        assert body["has_more"] is (cursor is not None)
    assert cursor is None
    assert seen == list(reversed(seeded))
    first = await client.get(AUDIT, params={"limit": 1, "actor": "stripe"}, headers=creds.admin())
    rest = await listed(client, creds, actor="stripe", cursor=first.json()["next_cursor"])
    assert rest == [seeded[2]]


@pytest.mark.parametrize("who", ["nobody", "user", "service"])
async def test_only_admins_read_the_log(
    client: httpx.AsyncClient, creds: Credentials, who: str
) -> None:
    headers = {"nobody": {}, "user": creds.bearer(5), "service": await creds.api_key("service")}
    status, code = (401, "unauthenticated") if who == "nobody" else (403, "forbidden")
    assert_problem(await client.get(AUDIT, headers=headers[who]), status, code)


async def test_an_admin_api_key_reads_the_log(
    client: httpx.AsyncClient, creds: Credentials, seeded: list[int]
) -> None:
    response = await client.get(AUDIT, headers=await creds.api_key("admin"))
    assert response.status_code == 200
    assert len(response.json()["data"]) == len(seeded)


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
        {"from": "2026-11-02T00:00:00"},  # no timezone
        {"to": "yesterday"},
        {"to": "0.5"},  # a number is not ISO 8601, though pydantic reads it as a Unix time
        {"from": "1893456000"},
        {"cursor": "not-ours"},
        {"limit": 0},
        {"limit": 101},
        {"user_id": 0},
        {"actor": "a\x00b"},
        {"target": "x" * 256},
    ],
)
async def test_bad_filters_are_validation_errors(
    client: httpx.AsyncClient, creds: Credentials, params: dict[str, Any]
) -> None:
    response = await client.get(AUDIT, params=params, headers=creds.admin())
    assert_problem(response, 422, "validation_error")


CHAIN = f"{AUDIT}/chain"


@pytest.fixture
async def sealed(database: Database, seeded: list[int]) -> AsyncIterator[list[int]]:
    """The seeded entries, chained; the log is emptied afterwards (PostgreSQL's is shared,
    and a tampered chain must not outlive its test)."""
    await seal_everything(database)
    yield seeded
    await empty_audit_log(database)


async def test_an_intact_chain_reports_its_head(
    client: httpx.AsyncClient, creds: Credentials, database: Database, sealed: list[int]
) -> None:
    response = await client.get(CHAIN, headers=creds.admin())
    assert response.status_code == 200, response.text
    head = (await entries(database))[-1]
    assert response.json() == {
        "verified": True,
        "sealed": len(sealed),
        "unsealed": 0,
        "head_seq": len(sealed),
        "head_hash": head.hash,
        "broken": None,
    }


@pytest.mark.ledger_tampered
async def test_a_tampered_entry_is_where_the_chain_breaks(
    client: httpx.AsyncClient, creds: Credentials, database: Database, sealed: list[int]
) -> None:
    await tamper(database, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    body = (await client.get(CHAIN, headers=creds.admin())).json()
    assert body["verified"] is False
    assert (body["sealed"], body["head_seq"]) == (2, 2)
    assert body["broken"] == {
        "id": sealed[2],
        "seq": 3,
        "reason": "its hash does not match its contents",
    }


async def test_only_admins_see_the_chain(
    client: httpx.AsyncClient, creds: Credentials, sealed: list[int]
) -> None:
    assert (await client.get(CHAIN, headers=creds.bearer(5))).status_code == 403
    assert (await client.get(CHAIN)).status_code == 401
