"""The rows of bench/report.py's table: which figure each benchmark's JSON holds, which
baseline it is compared with, and the issue's target for it.

Kept apart from the runner so the mapping reads as one list per benchmark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

Raw = dict[str, dict[str, Any] | None]


@dataclass(frozen=True)
class Target:
    """`applies_to` is "value" (an absolute bound) or "ratio" (a multiple of the baseline)."""

    op: str  # ">=" or "<="
    bound: float
    applies_to: str = "value"

    def holds(self, value: float) -> bool:
        return value >= self.bound if self.op == ">=" else value <= self.bound


@dataclass(frozen=True)
class Row:
    benchmark: str
    figure: str
    value: float | None
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        """None when there is no target; False when the figure is missing."""
        if self.target is None:
            return None
        measured = self.ratio if self.target.applies_to == "ratio" else self.value
        return measured is not None and self.target.holds(measured)

    def markdown(self) -> str:
        baseline = (
            f"{fmt(self.baseline, self.unit)} ({self.baseline_name})" if self.baseline_name else ""
        )
        ratio = f"{self.ratio:.2f}x" if self.ratio is not None else ""
        met = {None: "", True: "yes", False: "**NO**"}[self.met]
        cells = [self.benchmark, self.figure, fmt(self.value, self.unit), baseline, ratio]
        return f"| {' | '.join([*cells, self.target_text(), met])} |"

    def target_text(self) -> str:
        if self.target is None:
            return ""
        sign = {">=": "≥", "<=": "≤"}[self.target.op]
        if self.target.applies_to == "ratio":
            return f"{sign} {self.target.bound:g}x baseline"
        return f"{sign} {fmt(self.target.bound, self.unit)}"


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:,.0f}{unit}"


def at_least(bound: float, applies_to: str = "value") -> Target:
    return Target(">=", bound, applies_to)


def at_most(bound: float) -> Target:
    return Target("<=", bound)


def columns(f: dict[str, Any], column: str) -> dict[str, Any]:
    return {key: figure[column] for key, figure in f.items()}


def spend_rows(f: dict[str, Any], hello: dict[str, Any] | None) -> list[Row]:
    rate, p99, errors = columns(f, "rate"), columns(f, "p99_ms"), columns(f, "errors")
    row, jwts = partial(Row, "spend"), "random users, user JWTs"
    pg, pg_hot = "pgbench, same SQL", "pgbench, one hot user"
    key = "random users, service API key"
    rows = [
        row(jwts, rate["jwt_random"], "/s", pg, rate["pgbench_random"], at_least(0.6, "ratio")),
        row(key, rate["key_random"], "/s", pg, rate["pgbench_random"]),
        row(key, rate["key_random"], "/s", jwts, rate["jwt_random"], at_least(0.95, "ratio")),
        row(jwts, rate["jwt_random"], "/s", "bare FastAPI + asyncpg", rate["bare_random"]),
        row("one hot user", rate["hot"], "/s", pg_hot, rate["pgbench_hot"], at_least(3, "ratio")),
        row(f"p99, {jwts}", p99["jwt_random"], "ms", pg, p99["pgbench_random"], at_most(30)),
        row("p99, one hot user", p99["hot"], "ms", pg_hot, p99["pgbench_hot"], at_most(100)),
        row("behind PgBouncer, " + jwts, rate["pgbouncer_random"], "/s", jwts, rate["jwt_random"]),
        row("non-2xx responses", sum(errors.values()), "", target=at_most(0)),
    ]
    if hello:
        rows.insert(3, row(jwts, rate["jwt_random"], "/s", "hello world", hello["rate"]))
    return rows


def webhook_rows(f: dict[str, Any], hello: dict[str, Any] | None) -> list[Row]:
    rate, p99, errors = columns(f, "rate"), columns(f, "p99_ms"), columns(f, "errors")
    row, acks = partial(Row, "webhooks"), "acknowledged events, 64 connections"
    p99s = "acknowledgement p99, 64 connections"
    steady = f"acknowledgement p99, steady {rate['steady_ack']:,.0f}/s"
    failures = errors["ack"] + errors["steady_ack"] + errors["lag"]
    rows = [
        row(acks, rate["ack"], "/s", target=at_least(1500)),
        row(acks, rate["ack"], "/s", "GET /healthz, same server", rate["healthz"]),
        row(acks, rate["ack"], "/s", "pgbench, the inbox INSERT", rate["pgbench_insert"]),
        row(p99s, p99["ack"], "ms", "GET /healthz", p99["healthz"], at_most(50)),
        row(steady, p99["steady_ack"], "ms"),
        row("processing lag p99", p99["lag"] / 1000, "s", target=at_most(2)),
        row("errors (non-2xx, unprocessed events)", failures, "", target=at_most(0)),
    ]
    if hello:
        rows.insert(1, row(acks, rate["ack"], "/s", "hello world", hello["rate"]))
    return rows


def dashboard_rows(f: dict[str, Any], _: dict[str, Any] | None) -> list[Row]:
    year, month, row = f["365 days"], f["30 days"], partial(Row, "dashboard")
    return [
        row("last 365 days, p95", year["p95_ms"], "ms", target=at_most(100)),
        row("last 365 days, p50", year["p50_ms"], "ms"),
        row("last 365 days, first call", year["first_ms"], "ms"),
        row("last 30 days, p95", month["p95_ms"], "ms", target=at_most(30)),
        row("last 30 days, first call", month["first_ms"], "ms"),
        row("ledger rollups built over the seed (worker job, once)", year["rollups_s"], "s"),
    ]


def usage_rows(f: dict[str, Any], _: dict[str, Any] | None) -> list[Row]:
    """Debits per second in batches against pgbench's single spends per second."""
    rate, p99, errors = columns(f, "rate"), columns(f, "p99_ms"), columns(f, "errors")
    row, pg = partial(Row, "usage"), "pgbench, single spends"
    rows = []
    for size, target in (("100", None), ("1000", at_least(6, "ratio"))):
        key = f"batch_{size}"
        debits = f"debits, batches of {int(size):,}"
        rows.append(row(debits, rate[key], "/s", pg, rate["pgbench_random"], target))
        rows.append(row(f"request p99, batches of {int(size):,}", p99[key], "ms"))
    alone = "debits/s the rows alone allow, one core"
    rows.append(row(alone, rate.get("rows_alone"), "/s", pg, rate["pgbench_random"]))
    failures = errors["batch_100"] + errors["batch_1000"]
    return [*rows, row("non-2xx responses", failures, "", target=at_most(0))]


def hold_rows(f: dict[str, Any], _: dict[str, Any] | None) -> list[Row]:
    row, pairs, pg = partial(Row, "holds"), f["pairs"], f["pgbench_random"]
    return [
        row(
            "hold + capture pairs",
            pairs["rate"],
            "/s",
            "pgbench, single spends",
            pg["rate"],
            at_least(0.25, "ratio"),
        ),
        row("request p99", pairs["p99_ms"], "ms"),
        row("non-2xx responses", pairs["errors"], "", target=at_most(0)),
    ]


def outbound_rows(f: dict[str, Any], _: dict[str, Any] | None) -> list[Row]:
    deliveries = f["deliveries"]
    return [
        Row(
            "outbound",
            deliveries["name"],
            deliveries["rate"],
            "/s",
            target=at_least(1000),
        )
    ]


def alert_rows(f: dict[str, Any], _: dict[str, Any] | None) -> list[Row]:
    """Spends while wallets cross a low-balance threshold, against spends with none."""
    rate, errors, row = columns(f, "rate"), columns(f, "errors"), partial(Row, "alerts")
    none, off = "spends, no thresholds", "spends, wallet trigger off"
    return [
        row(none, rate["no_thresholds"], "/s", off, rate["watch_off"]),
        row(
            "credits.low told, nobody subscribed",
            rate["alerts_unsubscribed"],
            "/s",
            none,
            rate["no_thresholds"],
            at_least(0.9, "ratio"),
        ),
        row(
            "credits.low told, an endpoint subscribed, delivered on the same cores",
            rate["alerts_subscribed"],
            "/s",
            none,
            rate["no_thresholds"],
            at_least(0.9, "ratio"),
        ),
        row("non-2xx responses", sum(errors.values()), "", target=at_most(0)),
    ]


def sqlite_rows(f: dict[str, Any], _: dict[str, Any] | None) -> list[Row]:
    """One `billing serve` process on SQLite, against raw SQLite's spend transaction."""
    runs = f["figures"]
    rate, p99, errors = columns(runs, "rate"), columns(runs, "p99_ms"), columns(runs, "errors")
    row, raw = partial(Row, "sqlite"), "raw SQLite, same transaction"
    spends, bare = "spends, random users, 32 connections", "bare FastAPI + sqlite3"
    return [
        row("spends, random users, 1 connection", rate["spend_1"], "/s", raw, rate["raw"]),
        row(spends, rate["spend_32"], "/s", target=at_least(2000)),
        row(spends, rate["spend_32"], "/s", raw, rate["raw"], at_least(0.35, "ratio")),
        row(
            f"{bare}, the same transaction, 32 connections",
            rate.get("bare"),
            "/s",
            raw,
            rate["raw"],
        ),
        row(spends, rate["spend_32"], "/s", bare, rate.get("bare")),
        row("spend p99, 32 connections", p99["spend_32"], "ms", target=at_most(30)),
        row("webhooks acknowledged, 32 connections", rate["acks"], "/s", target=at_least(1500)),
        row("in-process worker, draining a backlog", rate["drain"], "/s"),
        row("worker lag p99 at a steady 200/s", p99["lag"] / 1000, "s", target=at_most(2)),
        row("/readyz after start", f["ready_seconds"], "s", target=at_most(1.5)),
        row("server memory after the load", f["rss_mb"], " MB", target=at_most(150)),
        row("errors (non-2xx, unprocessed)", sum(errors.values()), "", target=at_most(0)),
    ]


def hello_rows(f: dict[str, Any], _: dict[str, Any] | None) -> list[Row]:
    hello, row = f["hello"], partial(Row, "baseline")
    return [
        row("hello world, 64 connections", hello["rate"], "/s"),
        row("hello world p99", hello["p99_ms"], "ms"),
    ]


BUILDERS: dict[str, Callable[[dict[str, Any], dict[str, Any] | None], list[Row]]] = {
    "spend": spend_rows,
    "webhooks": webhook_rows,
    "dashboard": dashboard_rows,
    "usage": usage_rows,
    "holds": hold_rows,
    "outbound": outbound_rows,
    "alerts": alert_rows,
    "sqlite": sqlite_rows,
    "hello": hello_rows,
}


def rows_for(raw: Raw) -> list[Row]:
    """Every row for the benchmarks that ran; a failed one shows as a missed target."""
    hello_json = raw.get("hello")
    hello = hello_json["figures"]["hello"] if hello_json else None
    rows: list[Row] = []
    for name, result in raw.items():
        if result is None:
            rows.append(Row(name, "no figures: the benchmark failed", None, "", target=at_most(0)))
            continue
        whole = name in ("dashboard", "sqlite")  # figures and single values beside them
        figures = result if whole else result["figures"]
        rows += BUILDERS[name](figures, hello)
    return rows
