"""The garbage collector's settings for the service's processes.

What a process loads at its start lives as long as it does, and CPython's defaults keep
looking at it: full collections ran three times while `billing serve` imported the app
(about 0.2 s of a 1.3 s start), and, once serving, over the whole heap about once a
second under webhook load (130-210 ms pauses). docs/performance.md has the figures.
Every `billing` command's process collects at the server's pace (`billing.runtime`);
the server alone freezes what it loaded, once its app has started.
"""

from __future__ import annotations

import gc

# Allocations between young collections, then young and middle collections between older ones.
THRESHOLDS = (20_000, 20, 20)


def collect_less_often() -> None:
    """Few young collections: none of the full ones that a growing heap sets off."""
    gc.set_threshold(*THRESHOLDS)


def settle() -> None:
    """Everything that exists now lives as long as the process: out of the collector's sight."""
    gc.freeze()
    collect_less_often()
