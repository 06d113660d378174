"""bench/soak.py's machinery, in half a minute on PostgreSQL: the load, the sampling, the
trend fit and the ledger checks all run, and a healthy service passes.

Half a minute cannot show a slow leak (that is `make soak`'s ten minutes), so the memory
slope allowed here is loose: the test proves the soak works, not that nothing leaks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.conftest import NO_POSTGRES, POSTGRES_URL

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.serial,
    pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES),
]

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"
MINUTES = 0.25
INTERVAL = 2  # seconds: seven samples


def run_soak(tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    """The soak on the test server, in a scratch database named after the test's own."""
    url = make_url(POSTGRES_URL or "")
    server = url.set(drivername="postgresql").render_as_string(False).rsplit("/", 1)[0]
    output = tmp_path / "soak.json"
    command = [sys.executable, str(SOAK), "--minutes", str(MINUTES), "--interval", str(INTERVAL)]
    command += ["--max-rss-slope", "30", "--database", f"{url.database}_soak"]
    # One uvicorn worker and a light load: quicker to start, and room on a busy CI machine.
    command += ["--workers", "1", "--spend-rate", "20", "--json", str(output)]
    result = subprocess.run(
        command,
        env={**os.environ, "BENCH_PG": server},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return result, json.loads(output.read_text()) if output.exists() else {}


def test_a_short_soak_passes_its_verdict(tmp_path: Path) -> None:
    result, document = run_soak(tmp_path)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-4000:]}"
    verdict = document["verdict"]
    assert isinstance(verdict, dict)
    assert verdict["ok"], verdict["checks"]
    assert {check["name"] for check in verdict["checks"]} >= {
        "no failed requests",
        "verify-ledger",
        "wallets = funding + acknowledged top-ups - acknowledged spends",
    }
    samples = document["samples"]
    assert isinstance(samples, list)
    assert len(samples) == MINUTES * 60 // INTERVAL
    assert all(s["service_rss_mib"] > 0 and s["worker_rss_mib"] > 0 for s in samples)
    assert all(s["connections"] > 0 for s in samples)
    assert "verdict: PASS" in result.stdout
