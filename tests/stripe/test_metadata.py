"""The metadata the service writes, and which of it counts when read back: the prefixed
keys always, the plain ones only on objects Stripe created before the cutoff."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billing.stripe.metadata import (
    invoice_user_id,
    is_legacy,
    metadata_credits,
    metadata_purpose,
    metadata_user_id,
    written,
)

CUTOFF = datetime(2026, 5, 1, 12, 0, 0, 500_000, tzinfo=UTC)  # mid-second
SECOND = 1777636800  # 2026-05-01T12:00:00Z, the second the cutoff falls in


def test_what_the_service_writes_is_prefixed() -> None:
    assert written(42) == {"billing_user_id": "42"}
    assert written(42, purpose="topup", credits="900") == {
        "billing_user_id": "42",
        "billing_purpose": "topup",
        "billing_credits": "900",
    }


@pytest.mark.parametrize(
    ("created", "legacy"),
    [(SECOND - 1, True), (SECOND, True), (SECOND + 1, False), (None, False), (True, False)],
)
def test_an_object_is_old_only_when_stripe_created_it_before_the_cutoff(
    created: object, legacy: bool
) -> None:
    """Stripe counts whole seconds: the second the cutoff falls in began before it."""
    obj = {"created": created} if created is not None else {}
    assert is_legacy(obj, CUTOFF) is legacy
    assert is_legacy(obj, None) is False


def test_plain_keys_count_on_old_objects_only_and_never_over_prefixed_ones() -> None:
    plain = {"metadata": {"user_id": "7", "purpose": "topup", "credits": "50"}}
    old, new = {**plain, "created": SECOND - 60}, {**plain, "created": SECOND + 60}
    read = (metadata_user_id, metadata_purpose, metadata_credits)
    assert [reader(old, CUTOFF) for reader in read] == [7, "topup", 50]
    assert [reader(new, CUTOFF) for reader in read] == [None, None, None]
    assert [reader(old, None) for reader in read] == [None, None, None]
    both = {"created": SECOND - 60, "metadata": {"billing_user_id": "8", "user_id": "7"}}
    assert metadata_user_id(both, CUTOFF) == 8


def test_an_invoice_is_judged_by_its_own_creation() -> None:
    def paid(created: int) -> dict[str, object]:
        details = {"metadata": {"user_id": "7"}, "subscription": "sub_1"}
        return {"created": created, "parent": {"subscription_details": details}}

    assert invoice_user_id(paid(SECOND - 60), CUTOFF) == 7
    assert invoice_user_id(paid(SECOND + 60), CUTOFF) is None
