"""The soak's samples, their table, and the verdict drawn from them.

Trends are fitted over the second half only: the first minutes fill caches, pools and
the allocator's arenas, which is growth that stops, not a leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from procstat import slope
from soak_load import Stream

STREAMS = ("spends", "webhooks", "dashboard")
COLUMNS = ["min", "service RSS MiB", "worker RSS MiB", "service CPU %", "worker CPU %"]
COLUMNS += ["DB conns", "fds"]
COLUMNS += [f"{name} {what}" for name in STREAMS for what in ("/s", "p99 ms")]
COLUMNS += ["errors", "load"]
# The progress lines' header: the same columns, abbreviated to fit a terminal.
SHORT = ["min", "svc MiB", "wrk MiB", "svc CPU%", "wrk CPU%", "conns", "fds", "spend/s", "p99"]
SHORT += ["hook/s", "p99"]
SHORT += ["dash/s", "p99", "errors", "load"]


@dataclass
class Sample:
    minutes: float
    service_rss_mib: float
    worker_rss_mib: float
    service_cpu_pct: float  # of one core, since the previous sample
    worker_cpu_pct: float
    connections: int
    fds: int
    rates: dict[str, float]
    p99_ms: dict[str, float | None]
    errors: int  # so far, every stream
    load: float  # 1-minute load average: other work on the machine slows every figure

    def cells(self) -> list[str]:
        cells = [f"{self.minutes:.2f}", f"{self.service_rss_mib:.1f}"]
        cells += [f"{self.worker_rss_mib:.1f}", f"{self.service_cpu_pct:.0f}"]
        cells += [f"{self.worker_cpu_pct:.0f}", str(self.connections), str(self.fds)]
        for name in STREAMS:
            p99 = self.p99_ms.get(name)
            cells += [f"{self.rates.get(name, 0):.1f}", "-" if p99 is None else f"{p99:.0f}"]
        return [*cells, str(self.errors), f"{self.load:.1f}"]


def sample_row(sample: Sample | None) -> str:
    """One progress line (the header for None), fixed width."""
    return "".join(cell.rjust(9) for cell in (SHORT if sample is None else sample.cells()))


def samples_table(samples: list[Sample]) -> str:
    lines = [f"| {' | '.join(COLUMNS)} |", "|" + "---:|" * len(COLUMNS)]
    lines += [f"| {' | '.join(sample.cells())} |" for sample in samples]
    return "\n".join(lines)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Verdict:
    ok: bool
    checks: list[Check]
    trends: dict[str, float] = field(default_factory=dict)

    def text(self) -> str:
        lines = [f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in self.checks]
        return "\n".join([*lines, f"verdict: {'PASS' if self.ok else 'FAIL'}"])


def second_half(samples: list[Sample]) -> list[Sample]:
    half = [s for s in samples if s.minutes >= samples[-1].minutes / 2]
    return half if len(half) >= 2 else samples


def trends(samples: list[Sample]) -> dict[str, float]:
    """Least-squares slopes per minute over the second half."""
    half = second_half(samples)
    minutes = [s.minutes for s in half]
    series = {
        "service_rss_mib_per_min": [s.service_rss_mib for s in half],
        "worker_rss_mib_per_min": [s.worker_rss_mib for s in half],
        "connections_per_min": [float(s.connections) for s in half],
        "fds_per_min": [float(s.fds) for s in half],
    }
    return {name: slope(minutes, values) for name, values in series.items()}


def memory_check(name: str, values: list[float], per_min: float, limit: float) -> Check:
    span = f"{values[0]:.1f} -> {values[-1]:.1f} MiB over the run"
    detail = f"{per_min:+.2f} MiB/min over the second half (limit {limit:g}); {span}"
    return Check(f"{name} memory has no growth trend", per_min < limit, detail)


def request_check(streams: list[Stream]) -> Check:
    """Also says whether the load kept its pace: a backlog when the run ended means the
    service (or the machine it shares) could not answer that rate, and latencies grew."""
    errors = {stream.name: stream.errors for stream in streams}
    done = ", ".join(f"{s.name} {s.acknowledged:,}" for s in streams)
    first = [f"{s.name}: {e}" for s in streams for e in s.first_errors]
    backlog = {s.name: s.backlog for s in streams if s.backlog}
    detail = f"acknowledged {done}; errors {errors}" + (f"; first: {first}" if first else "")
    detail += f"; fell behind the rate: {backlog}" if backlog else "; the load kept its pace"
    return Check("no failed requests", not any(errors.values()), detail)


def pool_check(samples: list[Sample], pools: int, fitted: dict[str, float]) -> Check:
    peak = max(s.connections for s in samples)
    detail = f"peak {peak}, pools {pools}; {fitted['connections_per_min']:+.2f}/min over the"
    detail += f" second half (open files: {fitted['fds_per_min']:+.2f}/min)"
    return Check("database connections within the pools", peak <= pools, detail)


def ledger_verdicts(ledger: dict[str, str]) -> list[Check]:
    pending, failed, total = (int(n) for n in ledger["inbox"].split("|"))
    held, expected = int(ledger["wallets_hold"]), int(ledger["wallets_expected"])
    acknowledged = int(ledger["webhooks_acknowledged"])
    return [
        Check(
            "every acknowledged webhook stored once and processed",
            pending == failed == 0 and total == acknowledged,
            f"{total:,} events stored, {acknowledged:,} acknowledged as new,"
            f" {pending} still pending, {failed} failed or dead",
        ),
        Check("verify-ledger", ledger["verify_ledger_exit"] == "0", ledger["verify_ledger"]),
        Check(
            "wallets = funding + acknowledged top-ups - acknowledged spends",
            held == expected,
            f"hold {held:,}, expected {expected:,} ({held - expected:+,})",
        ),
    ]


def judge(
    samples: list[Sample],
    streams: list[Stream],
    ledger: dict[str, str],
    pools: int,
    max_rss_slope: float,
) -> Verdict:
    fitted = trends(samples)
    service = [s.service_rss_mib for s in samples]
    worker = [s.worker_rss_mib for s in samples]
    checks = [
        request_check(streams),
        memory_check("service", service, fitted["service_rss_mib_per_min"], max_rss_slope),
        memory_check("worker", worker, fitted["worker_rss_mib_per_min"], max_rss_slope),
        pool_check(samples, pools, fitted),
        *ledger_verdicts(ledger),
    ]
    return Verdict(all(check.ok for check in checks), checks, fitted)
