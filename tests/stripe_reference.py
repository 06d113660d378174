"""Where Stripe's published fixtures live: `shared/` beside the repository (as CI lays it
out), else the workspace's copy."""

from __future__ import annotations

from pathlib import Path

_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "shared" / "stripe-reference",
    Path("/work/shared/stripe-reference"),
)
STRIPE_REFERENCE = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
FIXTURES = STRIPE_REFERENCE / "openapi" / "fixtures3.json"
