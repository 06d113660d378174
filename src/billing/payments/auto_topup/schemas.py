"""`GET|PUT /api/financial/credits/{user_id}/settings`: what a user's wallet watches for,
and its auto top-up."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from billing.credits.repository import MAX_WALLET_BALANCE

Credits = Annotated[int, Field(strict=True, ge=1, le=MAX_WALLET_BALANCE)]
MinorUnits = Annotated[int, Field(strict=True, ge=1, le=MAX_WALLET_BALANCE)]


class AutoTopupTerms(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool
    threshold: Annotated[Credits, Field(description="Top up when a debit leaves less than this")]
    amount: Annotated[MinorUnits, Field(description="What each top-up charges")]
    currency: Annotated[str, StringConstraints(max_length=16)]
    monthly_limit: Annotated[
        MinorUnits, Field(description="Auto top-ups charged in a UTC calendar month, at most")
    ]


class CreditSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    low_balance_threshold: Annotated[
        Credits | None, Field(description="`credits.low` below this; null: the service default")
    ] = None
    auto_topup: AutoTopupTerms | None = None


class AutoTopupState(AutoTopupTerms):
    paused_at: datetime | None  # a decline paused it: saving the settings resumes it
    pause_reason: str | None  # the decline's code: card_declined, authentication_required, ...


class CreditSettingsView(BaseModel):
    user_id: int
    low_balance_threshold: int | None
    auto_topup: AutoTopupState | None
