"""Stripe's published fixtures (`tests/fixtures/stripe/`, with their source and licence)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stripe" / "fixtures3.json"
