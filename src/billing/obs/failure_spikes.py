"""Alerting on bursts of failures rather than on each one.

A declined card is ordinary; ten in five minutes usually means something broke
(a Stripe outage, a bad deploy, card testing). Each process counts the failures
it records in a sliding window and raises one alert when the count reaches the
threshold, then stays quiet for a window. Prometheus' rules
(`deploy/prometheus/alerts.yml`) watch the rates across all processes; this is
the same signal for deployments that only have `BILLING_ALERT_WEBHOOK_URL`.
"""

from __future__ import annotations

import time
from collections import deque

from billing.obs.alerts import alert

THRESHOLD = 10
WINDOW_SECONDS = 300.0


class FailureSpikes:
    """Failures of each kind over the last `window` seconds."""

    def __init__(self, threshold: int = THRESHOLD, window: float = WINDOW_SECONDS) -> None:
        self.threshold, self.window = threshold, window
        self._seen: dict[str, deque[float]] = {}
        self._alerted_at: dict[str, float] = {}

    def clear(self) -> None:
        """Forget every failure counted (a fresh process's state)."""
        self._seen.clear()
        self._alerted_at.clear()

    def note(self, kind: str, now: float | None = None) -> None:
        """Count one failure; alert `<kind>_spike` when the window holds `threshold`."""
        now = time.monotonic() if now is None else now
        seen = self._seen.setdefault(kind, deque())
        seen.append(now)
        while now - seen[0] > self.window:
            seen.popleft()
        last = self._alerted_at.get(kind)
        if len(seen) >= self.threshold and (last is None or now - last > self.window):
            self._alerted_at[kind] = now
            alert(f"{kind}_spike", failures=len(seen), window_seconds=int(self.window))


SPIKES = FailureSpikes()
