"""An event from the other mode than the configured key's (a test-mode secret left in the
rotation list on a live service, or the reverse) is stored and ignored: a 4242 payment
never grants real credits."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from billing.core.config import Settings
from billing.db.engine import Database
from billing.webhooks.handlers import registry
from billing.webhooks.handlers.context import HandlerContext
from billing.webhooks.models import IGNORED, PROCESSED
from billing.webhooks.processing import process_due
from tests.support.worker import credits_by_user, file_events, inbox_rows, topup_event

USER, CREDITS = 31, 500
LIVE_SECRETS = {
    "BILLING_ENV": "production",
    "STRIPE_SECRET_KEY": SecretStr("sk_live_" + "a" * 24),
    "STRIPE_WEBHOOK_SECRET": SecretStr("whsec_live_livemode"),
    "BILLING_JWT_SECRET": SecretStr("j" * 40),
    "BILLING_ENCRYPTION_KEYS": SecretStr("ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="),
    "BILLING_ALLOWED_REDIRECT_HOSTS": "billing.example.com",
}


def topup_in_mode(livemode: bool) -> bytes:
    event = json.loads(topup_event(USER, CREDITS))
    event["livemode"] = livemode
    event["data"]["object"]["livemode"] = livemode
    return json.dumps(event).encode()


def live(settings: Settings) -> Settings:
    return Settings.model_validate({**settings.model_dump(), **LIVE_SECRETS})


@pytest.mark.parametrize(
    ("service_live", "event_live", "credited"),
    [(False, False, True), (False, True, False), (True, True, True), (True, False, False)],
    ids=["test-test", "test-live", "live-live", "live-test"],
)
async def test_an_event_of_the_other_mode_is_stored_and_ignored(
    database: Database, settings: Settings, service_live: bool, event_live: bool, credited: bool
) -> None:
    configured = live(settings) if service_live else settings
    assert configured.stripe_livemode is service_live
    await file_events(database, settings, [topup_in_mode(event_live)])
    assert await process_due(database, registry(HandlerContext(configured, None)), limit=5) == 1
    [row] = await inbox_rows(database)
    assert row.livemode is event_live
    assert row.status == (PROCESSED if credited else IGNORED)
    assert row.payload is not None  # kept whole, for an operator to look at
    balances = await credits_by_user(database)
    assert (USER in balances) is credited


@pytest.mark.parametrize(
    ("key", "livemode"),
    [("sk_test_abc", False), ("rk_test_abc", False), ("sk_live_abc", True), ("rk_live_abc", True)],
)
def test_the_configured_mode_is_the_secret_keys(key: str, livemode: bool) -> None:
    """In production (development refuses live keys), where the mode matters."""
    settings = Settings.model_validate({**LIVE_SECRETS, "STRIPE_SECRET_KEY": SecretStr(key)})
    assert settings.stripe_livemode is livemode


def test_development_without_a_key_is_test_mode() -> None:
    settings = Settings(_env_file=None, BILLING_ENV="development")  # type: ignore[call-arg]
    assert settings.stripe_livemode is False
