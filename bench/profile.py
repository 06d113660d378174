"""Where a hot route's CPU goes: bench/asgi_cpu.py's route under py-spy, folded into the
functions that take the most of it. A sampling profile, so the figures are shares of the
samples taken while requests were served, not exact times.

Counts the samples whose stack is a request (`asgi_cpu.call`) or a group commit's batch
(which runs in a task of its own), and prints two tables: the functions most often on
those stacks (inclusive: the layers a request goes through, and what they cost with all
they call), and those most often at the top (self: where the CPU itself goes).

    python bench/profile.py --route spend [--requests 20000] [--top 30]
    python bench/profile.py --route spend --sqlite    # the embedded database instead
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUEST_FRAMES = ("call (asgi_cpu.py", "_drain (billing/db/group_commit.py")
LOCATION = re.compile(r" \((?:.*/site-packages/|.*/src/)?(.*?):\d+\)$")


def record(route: str, requests: int, sqlite: bool, output: Path) -> None:
    command = [sys.executable, str(HERE / "asgi_cpu.py"), "--route", route, "--rounds", "1"]
    command += ["--requests", str(requests), *(["--sqlite"] if sqlite else [])]
    spy = [str(Path(sys.executable).parent / "py-spy"), "record", "-r", "400", "-f", "raw"]
    subprocess.run([*spy, "-o", str(output), "--", *command], check=True)


def frame_name(frame: str) -> str:
    """`function (module/path.py)`, without the line number and the install prefix."""
    function = frame.split(" (", 1)[0]
    found = LOCATION.search(frame)
    return f"{function} ({found.group(1)})" if found else function


def fold(raw: Path) -> tuple[int, Counter[str], Counter[str]]:
    """(request samples, inclusive counts, self counts) over the request stacks."""
    total, inclusive, own = 0, Counter[str](), Counter[str]()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not any(marker in stack for marker in REQUEST_FRAMES):
            continue
        frames = [frame_name(frame) for frame in stack.split(";")]
        total += int(count)
        inclusive.update({name: int(count) for name in set(frames)})
        own[frames[-1]] += int(count)
    return total, inclusive, own


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--route", default="spend")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        raw = Path(directory) / "profile.txt"
        record(args.route, args.requests, args.sqlite, raw)
        total, inclusive, own = fold(raw)
    if not total:
        sys.exit("no request samples: did the route run?")
    print(f"{total:,} samples on request stacks ({args.route}, {args.requests:,} requests)\n")
    # What every request stack holds (the event loop, the benchmark's own frames) says nothing.
    shown = [(n, c) for n, c in inclusive.most_common() if c < total and "asgi_cpu" not in n]
    table("on the stack (inclusive)", shown[: args.top], total, own)
    table("running (self)", own.most_common(args.top), total, inclusive)


def table(title: str, rows: list[tuple[str, int]], total: int, other: Counter[str]) -> None:
    """The rows' shares of `total`, beside the other measure's."""
    inclusive_first = title.endswith("(inclusive)")
    first, second = ("inclusive", "self") if inclusive_first else ("self", "inclusive")
    print(f"{title}\n\n| function | {first} | {second} |\n|---|---:|---:|")
    for name, count in rows:
        print(f"| `{name}` | {count / total:.0%} | {other[name] / total:.0%} |")
    print()


if __name__ == "__main__":
    main()
