"""Request and response bodies of the hold routes (`credits.hold_routes`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from billing.credits.holds import DEFAULT_EXPIRES_IN, MAX_EXPIRES_IN
from billing.credits.schemas import (
    CreditAmount,
    Description,
    IdempotencyKey,
    Metadata,
    MoneyRequest,
)

HoldStatus = Literal["active", "captured", "released", "expired"]


class PlaceHoldRequest(MoneyRequest):
    amount: CreditAmount
    expires_in: Annotated[int, Field(strict=True, ge=1, le=MAX_EXPIRES_IN)] = Field(
        default=DEFAULT_EXPIRES_IN,
        description="Seconds until the worker releases the hold if it is not settled",
    )
    description: Description | None = None
    metadata: Metadata | None = None
    idempotency_key: IdempotencyKey | None = None


class CaptureHoldRequest(MoneyRequest):
    amount: CreditAmount | None = Field(
        default=None, description="Credits to capture, at most the hold's; default: all"
    )
    idempotency_key: IdempotencyKey | None = None


class ReleaseHoldRequest(MoneyRequest):
    idempotency_key: IdempotencyKey | None = None


class Hold(BaseModel):
    id: int
    user_id: int
    amount: int = Field(description="Credits held")
    captured: int = Field(description="Credits captured: 0 unless `captured`")
    status: HoldStatus
    expires_at: datetime
    description: str | None
    metadata: dict[str, object] | None
    created_at: datetime
    settled_at: datetime | None


class PlacedHold(Hold):
    balance: int = Field(description="The wallet's balance after the hold")


class CapturedHold(BaseModel):
    hold: Hold
    transaction_id: int
    balance: int = Field(description="The wallet's balance after the capture")


class ReleasedHold(BaseModel):
    hold: Hold
    balance: int = Field(description="The wallet's balance after the release")


class HoldPage(BaseModel):
    data: list[Hold] = Field(description="Newest first")
    has_more: bool
    next_cursor: str | None
