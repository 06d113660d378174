"""The short form of `bench/scale.py`: two servers behind one port and two workers on
PostgreSQL under mixed load (spends, holds, usage batches, Stripe top-ups, deliveries to
the platform), a server and a worker SIGKILLed every two seconds. Nothing may be lost or
applied twice, and no client may see a 500 (`tests/faults/scale.py` says what is checked).

The seed is printed; `FAULT_SEED=<seed>` replays the same operations and kill timings."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.faults.scale import Plan, run
from tests.support.worker import ONLY_POSTGRES

pytestmark = pytest.mark.serial  # processes killed at random: timed, alone

SHORT = Plan(servers=2, workers=2, seconds=8, kill_every=2, lanes=12, users=20)


@ONLY_POSTGRES
async def test_servers_and_workers_killed_under_mixed_load_lose_nothing(
    database_url: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("FAULT_SEED") or random.randrange(2**32))
    print(f"FAULT_SEED={seed}")
    plan = Plan(**{**SHORT.__dict__, "seed": seed})
    outcome = await run(plan, database_url, tmp_path)
    assert outcome.ok, outcome.failures
    assert {kill.role for kill in outcome.kills} == {"server", "worker"}
    assert len(outcome.kills) >= 4
    assert all(outcome.tally.done[kind] > 0 for kind in ("spend", "hold", "usage", "webhook"))
    assert outcome.delivered > 0
