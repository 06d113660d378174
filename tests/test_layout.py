"""The layout's own rules that no linter checks: modules stay small enough to read whole.

The import rules are import-linter's (pyproject.toml, run by `make lint`); imports inside
functions and under TYPE_CHECKING are ruff's (PLC0415, TID251).
"""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "billing"
MAX_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(SRC)): lines
        for path in SRC.rglob("*.py")
        if "versions" not in path.parts
        and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules by job: {long}"
