"""Every benchmark in one run, and one table of its figures against their baselines.

Runs bench/spend.py, bench/usage.py, bench/holds.py, bench/outbound.py, bench/alerts.py,
bench/webhooks.py, bench/dashboard.py and bench/sqlite.py one after the other (each
streams its progress here and writes its figures with --json), and, between them, a
hello-world endpoint on the service's server settings under the same wrk load: the HTTP
stack's own ceiling on this machine. Baselines measured in the same run share the
machine's state with the figures they are compared with, so the ratios stay meaningful
on a busy or small machine where the absolute figures do not. Writes
bench/results/latest.md and bench/results/latest.json (not committed) and exits 1 if a
benchmark failed or a target was missed.

    python bench/report.py [--quick] [--only spend,usage,holds,outbound,alerts,...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from common import hello_world, say
from report_rows import Row, rows_for

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CONNECTIONS = 64  # what spend.py and webhooks.py use by default
# A few seconds per phase and a small dashboard data set: checks the machinery, not figures.
QUICK = {
    "spend": ["--seconds", "3"],
    "webhooks": ["--seconds", "3", "--lag-seconds", "3"],
    "dashboard": ["--users", "5000", "--transactions", "50000", "--subscriptions", "1000"],
    "usage": ["--seconds", "3"],
    "holds": ["--seconds", "3"],
    "outbound": ["--messages", "3000"],
    "alerts": ["--seconds", "3", "--users", "1000"],
    "sqlite": ["--seconds", "3", "--users", "200", "--lag-seconds", "3"],
}


@dataclass
class Run:
    """One benchmark's run: its JSON (None if it wrote none) and how it ended."""

    name: str
    figures: dict[str, Any] | None
    code: int
    seconds: float

    def note(self) -> str:
        return f"bench/{self.name}.py: exit {self.code} after {self.seconds:.0f} s"


def run_bench(name: str, args: list[str], workdir: Path) -> Run:
    """Run bench/NAME.py with its output straight to the terminal (its progress shows)."""
    output = workdir / f"{name}.json"
    say(f"\n=== bench/{name}.py {' '.join(args)}")
    started = time.monotonic()
    command = [sys.executable, str(HERE / f"{name}.py"), "--json", str(output), *args]
    code = subprocess.run(command, check=False).returncode
    figures = json.loads(output.read_text()) if output.exists() else None
    run = Run(name, figures, code, time.monotonic() - started)
    say(f"=== {run.note()}")
    return run


def hello(seconds: int) -> Run:
    say("\n=== hello world on the service's server settings")
    started = time.monotonic()
    figures = hello_world(seconds, CONNECTIONS)
    return Run("hello", {"figures": {"hello": figures.__dict__}}, 0, time.monotonic() - started)


def markdown(rows: list[Row], notes: list[str]) -> str:
    head = "| benchmark | figure | value | baseline | ratio | target | met? |"
    lines = [head, "|---|---|---:|---|---:|---|---|"]
    lines += [row.markdown() for row in rows]
    return "\n".join([*lines, "", *(f"- {note}" for note in notes)]) + "\n"


def run_all(names: list[str], quick: bool, seconds: int) -> list[Run]:
    """The benchmarks in order, and the hello-world baseline once, right after the first
    benchmark compared with it (listed first in the table)."""
    runs: list[Run] = []
    with TemporaryDirectory() as tmp:
        for name in names:
            runs.append(run_bench(name, QUICK[name] if quick else [], Path(tmp)))
            if name in ("spend", "webhooks") and runs[0].name != "hello":
                runs.insert(0, hello(seconds))
    return runs


def write(rows: list[Row], notes: list[str], runs: list[Run]) -> str:
    """bench/results/latest.md and latest.json (with every benchmark's own JSON)."""
    report = markdown(rows, notes)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(report)
    document = {
        "rows": [asdict(row) | {"ratio": row.ratio, "met": row.met} for row in rows],
        "notes": notes,
        "raw": {run.name: run.figures for run in runs},
    }
    (RESULTS / "latest.json").write_text(json.dumps(document, indent=2))
    say(f"written: {RESULTS / 'latest.md'}, {RESULTS / 'latest.json'}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="seconds, not minutes")
    default = "spend,usage,holds,outbound,alerts,webhooks,dashboard,sqlite"
    parser.add_argument("--only", default=default)
    parser.add_argument("--seconds", type=int, default=15, help="hello-world wrk run")
    args = parser.parse_args()
    started = time.monotonic()
    names = [name for name in args.only.split(",") if name]
    runs = run_all(names, args.quick, 3 if args.quick else args.seconds)
    rows = rows_for({run.name: run.figures for run in runs})
    notes = [run.note() for run in runs if run.name != "hello"]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    notes.append(f"load average {load} on {os.cpu_count()} CPUs at the end (a shared machine")
    notes[-1] += " slows every figure: compare the ratios, measured in the same run)"
    notes.append(f"whole run: {time.monotonic() - started:.0f} s" + (" (--quick)" * args.quick))
    print("\n" + write(rows, notes, runs))
    if any(run.code for run in runs) or any(row.met is False for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
