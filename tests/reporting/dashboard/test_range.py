"""Who may read the dashboard, and which ranges it takes: UTC days, both inclusive, the last
30 by default, at most three years, `from` not after `to`."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from billing.core.times import utcnow
from tests.conftest import Credentials
from tests.reporting.dashboard.test_service import DASHBOARD, get_dashboard
from tests.support.credits import assert_problem


async def test_only_an_admin_may_read_the_dashboard(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    assert_problem(await client.get(DASHBOARD), 401, "unauthenticated")
    bad_token = {"Authorization": "Bearer not-a-token"}
    assert_problem(await client.get(DASHBOARD, headers=bad_token), 401, "unauthenticated")
    assert_problem(await client.get(DASHBOARD, headers=creds.bearer(7)), 403, "forbidden")
    service = await client.get(DASHBOARD, headers=await creds.api_key("service"))
    assert_problem(service, 403, "forbidden")
    admin_key = await creds.api_key("admin")
    assert (await client.get(DASHBOARD, headers=admin_key)).status_code == 200
    assert (await client.get(DASHBOARD, headers=creds.admin())).status_code == 200


async def test_the_default_range_is_the_last_30_days_ending_today(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    today = utcnow().date()
    body = await get_dashboard(client, creds.admin())
    assert body["range"] == {
        "from": (today - timedelta(days=29)).isoformat(),
        "to": today.isoformat(),
    }
    only_to = await get_dashboard(client, creds.admin(), to="2026-03-31")
    assert only_to["range"] == {"from": "2026-03-02", "to": "2026-03-31"}
    only_from = await get_dashboard(client, creds.admin(), **{"from": "2026-01-01"})
    assert only_from["range"] == {"from": "2026-01-01", "to": today.isoformat()}


async def test_a_range_of_three_years_is_the_longest_taken(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    # 2023-01-01 .. 2025-12-31 is 365 + 366 + 365 = 1096 days.
    longest = {"from": "2023-01-01", "to": "2025-12-31"}
    assert (await get_dashboard(client, creds.admin(), **longest))["range"] == longest
    reply = await client.get(
        DASHBOARD, params={"from": "2022-12-31", "to": "2025-12-31"}, headers=creds.admin()
    )
    assert_problem(reply, 422, "validation_error")


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-03-02", "to": "2026-03-01"},  # from after to
        {"from": "2026-02-30"},  # no such day
        {"to": "2026-13-01"},
        {"from": "2026-3-01"},  # not YYYY-MM-DD
        {"from": "20260301"},
        {"to": "2026-03-01T00:00:00"},
        {"from": "yesterday"},
        {"to": "1969-12-31"},  # before 1970
        {"to": "0001-01-01"},  # and no 29 days before it to start the default range
        {"from": "1970-01-01", "to": "9999-12-30"},  # bounds fine, range too long
        {"from": "9999-12-31", "to": "9999-12-31"},  # no day after it to end the range
        {"from": ""},
    ],
)
async def test_bad_dates_and_ranges_are_refused(
    client: httpx.AsyncClient, creds: Credentials, params: dict[str, str]
) -> None:
    reply = await client.get(DASHBOARD, params=params, headers=creds.admin())
    assert_problem(reply, 422, "validation_error")
