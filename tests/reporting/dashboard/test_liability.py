"""The dashboard's credit liability: only what users can spend (or holds reserve), split by
where it came from; expired credits reported as breakage by the same split."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from billing.core.times import CLOCK, Clock, utcnow
from billing.credits import grant_service, holds
from billing.credits import service as credits
from billing.credits.accounts import (
    ADMIN_GRANT,
    PURCHASE,
    SPEND,
    SUBSCRIPTION_GRANT,
    TransactionKind,
)
from billing.credits.grants import GrantTerms
from billing.credits.jobs import expire_due
from billing.credits.transfers import Transfer
from billing.db.engine import Database
from tests.conftest import Credentials, app_database
from tests.credits.test_rollups import forget_rollups, roll_up_as_of
from tests.reporting.dashboard.test_service import get_dashboard, post
from tests.support.credits import CREDITS


async def grant(
    database: Database,
    user: int,
    kind: TransactionKind,
    amount: int,
    source: str | None = None,
    expires_at: datetime | None = None,
) -> int:
    terms = GrantTerms(source or str(kind.grant_source), expires_at=expires_at)
    posted = await credits.post(database, Transfer(kind, user, amount, "test", grant=terms))
    assert posted.grant_id is not None
    return posted.grant_id


async def credits_until(
    client: httpx.AsyncClient, headers: dict[str, str], last: datetime
) -> dict[str, Any]:
    """The credit figures of the range ending on `last`'s day: the same from the ledger's
    rows alone and with every day up to tomorrow summarized (then forgotten again, as
    later postings today would make those summaries wrong)."""

    async def figures() -> dict[str, Any]:
        body = await get_dashboard(client, headers, to=last.date().isoformat())
        return dict(body["credits"])

    from_rows = await figures()
    database = app_database(client)
    await roll_up_as_of(database, CLOCK, 2)
    try:
        assert await figures() == from_rows
    finally:
        await forget_rollups(database)
    return from_rows


async def test_the_liability_is_split_into_paid_and_promotional_credits(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    for kind, amount, source in [
        (PURCHASE, 1000, "purchase"),
        (PURCHASE, 200, "topup"),
        (PURCHASE, 300, "auto_topup"),
        (SUBSCRIPTION_GRANT, 400, "subscription"),
    ]:
        await grant(database, 401, kind, amount, source)
    await grant(database, 402, ADMIN_GRANT, 500, "admin")
    await grant(database, 402, ADMIN_GRANT, 250, "promotion")
    mistake = await grant(database, 402, ADMIN_GRANT, 40, "admin")
    await post(database, 401, SPEND, 150)  # from the oldest: the purchase
    await post(database, 402, SPEND, 100)  # from the promotion first (priority 10)
    await grant_service.void(database, 402, mistake, reason="typo", actor="test", key=None)

    figures = await credits_until(client, creds.admin(), utcnow())
    # Paid: 1000 - 150 + 200 + 300 + 400; promotional: 500 + 250 - 100.
    assert figures["liability"] == {"paid": 1750, "promotional": 650, "held": 0}
    assert figures["outstanding"] == 2400
    assert (figures["issued"], figures["spent"], figures["voided"]) == (2690, 250, 40)


async def test_held_credits_stay_in_the_liability_apart_from_the_spendable(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    await grant(database, 403, PURCHASE, 1000)
    await holds.place(database, holds.NewHold(403, 250, actor="test"))
    figures = await credits_until(client, creds.admin(), utcnow())
    assert figures["liability"] == {"paid": 750, "promotional": 0, "held": 250}
    assert figures["outstanding"] == 1000
    before = await credits_until(client, creds.admin(), utcnow() - timedelta(days=1))
    assert before["liability"] == {"paid": 0, "promotional": 0, "held": 0}


async def test_a_lapsed_grant_is_no_liability_and_its_expiry_is_breakage(
    client: httpx.AsyncClient, creds: Credentials, database: Database, clock: Clock
) -> None:
    admin = creds.admin()  # minted before the clock moves
    day_0, tomorrow = utcnow(), utcnow() + timedelta(days=1)
    await grant(database, 404, ADMIN_GRANT, 100, "promotion", expires_at=tomorrow)
    await grant(database, 404, PURCHASE, 300, "topup", expires_at=tomorrow)
    await grant(database, 404, PURCHASE, 50)
    lapsing = {"paid": 350, "promotional": 100, "held": 0}
    assert (await credits_until(client, admin, day_0))["liability"] == lapsing

    clock.offset = timedelta(days=2)  # both lapsed; the expiry job has not run yet
    figures = await credits_until(client, admin, utcnow())
    assert figures["liability"] == {"paid": 50, "promotional": 0, "held": 0}
    assert (figures["outstanding"], figures["expired"]) == (50, 0)
    assert figures["breakage"] == {"paid": 0, "promotional": 0}
    # As of the end of day 0 they were spendable, and still are after the sweep.
    assert (await credits_until(client, admin, day_0))["liability"] == lapsing

    assert await expire_due(database) == 2
    figures = await credits_until(client, admin, utcnow())
    assert figures["liability"] == {"paid": 50, "promotional": 0, "held": 0}
    assert figures["expired"] == 400
    assert figures["breakage"] == {"paid": 300, "promotional": 100}
    day_0_figures = await credits_until(client, admin, day_0)
    assert day_0_figures["liability"] == lapsing
    assert (day_0_figures["expired"], day_0_figures["outstanding"]) == (0, 450)


async def test_what_a_captured_hold_took_counts_as_spent(
    client: httpx.AsyncClient, creds: Credentials, database: Database
) -> None:
    admin = creds.admin()
    await grant(database, 404, PURCHASE, 1000)
    held = await client.post(f"{CREDITS}/404/holds", json={"amount": 250}, headers=admin)
    assert held.status_code == 201, held.text
    url = f"{CREDITS}/404/holds/{held.json()['id']}/capture"
    assert (await client.post(url, json={"amount": 100}, headers=admin)).status_code == 200
    figures = await credits_until(client, admin, utcnow())
    assert figures["spent"] == 100
    assert figures["liability"] == {"paid": 900, "promotional": 0, "held": 0}
    body = await get_dashboard(client, admin, to=utcnow().date().isoformat())
    assert body["top_users"] == [{"user_id": 404, "spent": 100}]


async def test_a_sweep_stamped_after_the_dashboards_now_counts_once(
    client: httpx.AsyncClient, creds: Credentials, database: Database, clock: Clock
) -> None:
    """The expiry sweep commits a few seconds after the instant the dashboard took as now
    (a clock ahead, a dashboard waiting for another): its transactions are in what the
    readers see, and the grants they emptied are read as they stand, so it counts once."""
    admin = creds.admin()
    tomorrow = utcnow() + timedelta(days=1)
    await grant(database, 404, ADMIN_GRANT, 100, "promotion", expires_at=tomorrow)
    await grant(database, 404, PURCHASE, 300, "topup", expires_at=tomorrow)
    await grant(database, 404, PURCHASE, 50)
    clock.offset = timedelta(days=2, seconds=5)
    assert await expire_due(database) == 2
    clock.offset = timedelta(days=2)
    body = await get_dashboard(client, admin, to=utcnow().date().isoformat())
    assert body["credits"]["liability"] == {"paid": 50, "promotional": 0, "held": 0}
