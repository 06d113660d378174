"""One alert for a burst of failures, none for the ordinary trickle."""

from __future__ import annotations

from structlog.testing import capture_logs

from billing.obs.failure_spikes import FailureSpikes


def alerts(logs: list[dict[str, object]]) -> list[object]:
    return [log["alert"] for log in logs if log["event"] == "alert"]


def test_a_burst_alerts_once_per_window_and_a_trickle_never() -> None:
    spikes = FailureSpikes(threshold=3, window=60)
    with capture_logs() as logs:
        for second in (0, 70, 140, 210):  # one a minute: never three in a window
            spikes.note("payment_failure", now=second)
        assert alerts(logs) == []
        for second in (300, 301, 302, 303, 304):  # five in five seconds: one alert
            spikes.note("payment_failure", now=second)
        assert alerts(logs) == ["payment_failure_spike"]
        spikes.note("webhook_failure", now=305)  # kinds are counted apart
        for second in (370, 371, 372):  # a window later: the next burst alerts again
            spikes.note("payment_failure", now=second)
    assert alerts(logs) == ["payment_failure_spike", "payment_failure_spike"]


def test_clear_forgets_what_was_counted() -> None:
    spikes = FailureSpikes(threshold=2, window=60)
    with capture_logs() as logs:
        spikes.note("payment_failure", now=0)
        spikes.clear()
        spikes.note("payment_failure", now=1)
    assert alerts(logs) == []
