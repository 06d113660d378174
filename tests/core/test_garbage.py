"""The collector's settings, in processes of their own: they are process-wide."""

from __future__ import annotations

import subprocess
import sys


def run(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_loading_the_whole_app_sets_off_no_full_collection() -> None:
    """As `billing serve` starts: the `billing` command's package comes first and sets the
    collector, then the app loads (with CPython's defaults, three full collections)."""
    script = "import gc, billing.runtime.cli; print(gc.get_stats()[2]['collections'])"
    assert run(script) == "0"


def test_settling_puts_what_exists_out_of_sight_and_keeps_the_thresholds() -> None:
    script = (
        "import gc; from billing.core import garbage; before = gc.get_freeze_count();"
        "garbage.settle(); print(before, gc.get_freeze_count() > 1000, gc.get_threshold())"
    )
    assert run(script) == "0 True (20000, 20, 20)"
