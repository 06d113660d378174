"""These tests dispatch by hand: the app's in-process worker must not dispatch too."""

from __future__ import annotations

import pytest

from billing.core.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"BILLING_RUN_WORKER": False})
