"""The sandbox's own client, for setting up and checking Stripe's side of each test."""

from __future__ import annotations

import pytest
import stripe

from tests.support.sandbox_process import Sandbox


@pytest.fixture
def sandbox(stripe_sandbox: Sandbox) -> stripe.StripeClient:
    return stripe_sandbox.client
